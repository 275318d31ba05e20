#!/usr/bin/env bash
# System libraries the Python packages build against: mysqlclient (the MySQL/MariaDB provider) needs
# the MariaDB client headers. Installs them with apt-get when missing (as root), else says what to do.
set -euo pipefail
if pkg-config --exists mysqlclient 2>/dev/null || pkg-config --exists libmariadb 2>/dev/null; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing the MariaDB client headers (default-libmysqlclient-dev) for mysqlclient"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq default-libmysqlclient-dev pkg-config >/dev/null
else
  echo "mysqlclient needs the MySQL/MariaDB client headers and pkg-config:" >&2
  echo "  Debian/Ubuntu: sudo apt-get install default-libmysqlclient-dev pkg-config" >&2
  exit 1
fi
