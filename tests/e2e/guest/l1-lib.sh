# shellcheck shell=sh
# Guest helper (source it): L1, the peer at 10.0.0.1, gives its go-aheads as files on its
# web server (busybox httpd, port 8080).
# l1_published NAME TRIES: wait until L1 publishes NAME, polling every 0.2 s, at most
# TRIES times; fails when it never does.
l1_published() {
	for _ in $(seq "$2"); do
		wget -q -O /dev/null "http://10.0.0.1:8080/$1" 2>/dev/null && return 0
		sleep 0.2
	done
	return 1
}
