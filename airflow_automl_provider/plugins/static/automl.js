/* The AutoML pages' only script (served by the app, allowed by the CSP as 'self'). */
(function () {
  "use strict";

  // The Airflow UI shows the pages in a frame sandboxed without allow-top-navigation, so a target="_top" link
  // (to a DAG run in the Airflow UI) would be blocked there: follow it through an anchor of the same-origin top.
  if (window.top !== window) {
    document.addEventListener("click", function (e) {
      var a = e.target.closest && e.target.closest('a[target="_top"]');
      if (!a) return;
      try {
        var d = window.top.document, t = d.createElement("a");
        t.href = a.href;
        d.body.appendChild(t);
        t.click();
        t.remove();
        e.preventDefault();
      } catch (err) { /* not same-origin: let the browser decide */ }
    });
  }

  // Charts: each <script type="application/json" class="plotly-figure" data-target="..."> holds a figure that the
  // server built with plotly; plotly's offline bundle (loaded before this file) draws it.
  var CONFIG = { responsive: true, displaylogo: false, showLink: false, scrollZoom: false };

  function drawCharts() {
    var figures = document.querySelectorAll('script.plotly-figure[type="application/json"]');
    figures.forEach(function (node) {
      var target = document.getElementById(node.dataset.target);
      if (!target) return;
      if (typeof window.Plotly === "undefined") {
        target.textContent = "The chart library did not load.";
        target.dataset.rendered = "error";
        return;
      }
      var figure = JSON.parse(node.textContent);
      window.Plotly.newPlot(target, figure.data, figure.layout || {}, CONFIG).then(function () {
        target.dataset.rendered = "true";
      });
    });
  }

  // Compare: the button says how many models are selected and needs two or more.
  function wireCompare() {
    var form = document.querySelector("form.compare-form");
    if (!form) return;
    var button = form.querySelector("button.compare");
    function update() {
      var names = {};
      form.querySelectorAll('input[name="model"]:checked').forEach(function (box) { names[box.value] = true; });
      var n = Object.keys(names).length;
      button.disabled = n < 2;
      button.textContent = n < 2 ? "Compare (select two or more)" : "Compare " + n + " models";
    }
    form.addEventListener("change", update);
    update();
  }

  function ready() {
    drawCharts();
    wireCompare();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", ready);
  else ready();
})();
