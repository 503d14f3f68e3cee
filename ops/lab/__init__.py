"""A disposable lab of Debian 12 hosts booted with systemd-nspawn, for Ansible rehearsals."""
