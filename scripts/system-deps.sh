#!/usr/bin/env bash
# System packages the tests and the report use: an OpenSSH server (remote-device
# tests on 127.0.0.1) and Chromium (rendering the HTML report headless).
# Installs them with apt when run as root and they are missing; otherwise says
# what is missing (those tests then skip with that reason).
set -u
need=()
command -v sshd >/dev/null 2>&1 || [ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v ssh >/dev/null 2>&1 || need+=(openssh-client)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing system packages: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  (apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}") >/tmp/edgecnn-apt.log 2>&1 \
    || echo "warning: apt-get install ${need[*]} failed (see /tmp/edgecnn-apt.log); the tests that need them will skip"
else
  echo "note: missing ${need[*]} (install them to run the SSH and browser tests)"
fi
exit 0
