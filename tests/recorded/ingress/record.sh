#!/usr/bin/env bash
# tests/recorded/ingress/record.sh - record the swarm ingress routing mesh with its
# ground truth. Run in the kernel VM (this sandbox's kernel has no IPVS), as root
# with the lab up:
#
#   flock /run/nx-vm.lock scripts/kernel-vm run -- bash tests/recorded/ingress/record.sh
#
# It brings up the one-node swarm (scripts/lab swarm up --one-node: service nxweb,
# 2 replicas, publishing 8081 -> 80), sends one HTTP GET through the mesh, and
# writes into this directory:
#   snapshot.json             netexplorer snapshot --json (the code of this checkout)
#   truth/before/, truth/after/  the ground truth read just before and just after the
#                             snapshot, by the system's own tools (counters may move
#                             in between; texts may not):
#     ns.<name>.<tool>.txt    ip{,6}tables-{nft,legacy}-save -c inside ingress_sbox
#                             and each lb_* namespace (nsenter --net)
#     ns.<name>.ip_vs.txt     /proc/net/ip_vs there
#     ct.<task>.<tool>.txt    the same inside each nxweb task (nsenter -t PID -n)
#     host.<tool>.txt         the host's own tables
#   truth/ns.<name>.addr.txt, truth/ct.<task>.addr.txt   ip -d addr inside
#   truth/ns.<name>.route.json, .route6.json, .rule.json, .ip_forward.txt
#                             in every Docker namespace (1-*, ingress_sbox, lb_*):
#                             ip -j route show table all, ip -6 -j route show table
#                             all, ip -j rule, /proc/sys/net/ipv4/ip_forward
#   truth/ct.<task>.inspect.json   docker inspect of each task
#   truth/service.json, truth/networks.json   docker service/network inspect
#   truth/http.txt            the answer of the GET through the mesh
#   scaled0.snapshot.json, truth/scaled0/  the same once nxweb is scaled to 0 tasks
# and leaves the swarm up (the kernel tests that follow in the same boot use it;
# their fixture takes it down).
#
# With --into NAME it records the same into NAME/ (snapshot.json and truth/, not
# the scaled-down part): a second recording beside the first, e.g. made by a newer
# netexplorer that reads more (routes/: Docker's namespaces' routes and forwarding).
#
# On a kernel without IPVS (this project's sandbox), under the lab lock:
#   flock /run/nx-lab.lock bash tests/recorded/ingress/record.sh --no-ipvs
# records the same swarm there into no-ipvs/ (snapshot.json, truth/: the tables,
# no /proc/net/ip_vs) and takes the swarm down again: the mesh cannot deliver.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
NO_IPVS=0
INTO=
if [[ ${1:-} == --into ]]; then
    [[ -n ${2:-} && ${2} != */* ]] || { echo "record.sh: --into NAME (a directory here)" >&2; exit 2; }
    INTO=$2
    HERE=$HERE/$INTO
    mkdir -p "$HERE"
elif [[ ${1:-} == --no-ipvs ]]; then
    NO_IPVS=1
    [[ ! -e /proc/net/ip_vs ]] || { echo "record.sh: this kernel has IPVS" >&2; exit 2; }
    HERE=$HERE/no-ipvs
    trap '"$ROOT/scripts/lab" swarm down' EXIT
fi
T=$HERE/truth
NETNS=/var/run/docker/netns
TOOLS=(iptables-nft-save ip6tables-nft-save iptables-legacy-save ip6tables-legacy-save)

"$ROOT/scripts/lab" swarm up --one-node
rm -rf "$T"
mkdir -p "$T/before" "$T/after"

# the mesh's namespaces (ingress_sbox, lb_*) and the service's tasks (name pid)
mesh_namespaces() {
    local f
    for f in "$NETNS"/ingress_sbox "$NETNS"/lb_*; do [[ -e $f ]] && basename "$f"; done
}
tasks() {
    docker ps -q --filter label=com.docker.swarm.service.name=nxweb |
        xargs docker inspect -f '{{.Name}} {{.State.Pid}}' | sed 's|^/||' | sort
}

# save OUT CMD...: CMD's output into OUT; a failure is written there as a comment
save() {
    local out=$1 rc=0
    shift
    "$@" >"$out" 2>"$out.err" || rc=$?
    ((rc == 0)) || echo "# exit $rc: $(cat "$out.err")" >>"$out"
    rm -f "$out.err"
}

save_all() {  # save_all DIR: every table and IPVS table of the mesh, by its own tools
    local dir=$1 ns name pid tool
    for ns in $(mesh_namespaces); do
        for tool in "${TOOLS[@]}"; do
            save "$dir/ns.$ns.$tool.txt" nsenter --net="$NETNS/$ns" "$tool" -c
        done
        save "$dir/ns.$ns.ip_vs.txt" nsenter --net="$NETNS/$ns" cat /proc/net/ip_vs
    done
    while read -r name pid; do
        for tool in "${TOOLS[@]}"; do
            save "$dir/ct.$name.$tool.txt" nsenter -t "$pid" -n "$tool" -c
        done
    done < <(tasks)
    for tool in "${TOOLS[@]}"; do save "$dir/host.$tool.txt" "$tool" -c; done
}

if ((NO_IPVS)); then
    save_all "$T/before"
    python -m netexplorer snapshot --json -o "$HERE/snapshot.json" || [[ $? == 1 ]]
    save_all "$T/after"
    ls -R "$HERE"
    exit 0
fi

# one request through the mesh: its rules count, IPVS shows the connection
timeout 10 bash -c 'exec 3<>/dev/tcp/198.51.100.17/8081 &&
    printf "GET / HTTP/1.0\r\n\r\n" >&3 && cat <&3' >"$T/http.txt"
sleep 1
save_all "$T/before"
python -m netexplorer snapshot --json -o "$HERE/snapshot.json" || [[ $? == 1 ]]
save_all "$T/after"

for ns in $(mesh_namespaces); do nsenter --net="$NETNS/$ns" ip -d addr >"$T/ns.$ns.addr.txt"; done
for f in "$NETNS"/1-* "$NETNS"/ingress_sbox "$NETNS"/lb_*; do
    [[ -e $f ]] || continue
    ns=$(basename "$f")
    nsenter --net="$f" ip -j route show table all >"$T/ns.$ns.route.json"
    nsenter --net="$f" ip -6 -j route show table all >"$T/ns.$ns.route6.json"
    nsenter --net="$f" ip -j rule >"$T/ns.$ns.rule.json"
    nsenter --net="$f" cat /proc/sys/net/ipv4/ip_forward >"$T/ns.$ns.ip_forward.txt"
done
while read -r name pid; do
    nsenter -t "$pid" -n ip -d addr >"$T/ct.$name.addr.txt"
    docker inspect "$name" >"$T/ct.$name.inspect.json"
done < <(tasks)
docker service inspect nxweb >"$T/service.json"
docker network inspect ingress docker_gwbridge >"$T/networks.json"
if [[ -n $INTO ]]; then
    ls -R "$HERE"
    exit 0
fi

# The same service scaled to 0: the port is still published, no task is left to
# take it (scaled0.snapshot.json, truth/scaled0/: the mesh's tables and IPVS then)
docker service scale -d nxweb=0 >/dev/null
for _ in $(seq 120); do [[ -z $(tasks) ]] && break; sleep 1; done
sleep 5
mkdir -p "$T/scaled0"
save_all "$T/scaled0"
python -m netexplorer snapshot --json -o "$HERE/scaled0.snapshot.json" || [[ $? == 1 ]]
# back to 2 tasks answering through the mesh, as scripts/lab swarm up --one-node left it
docker service scale -d nxweb=2 >/dev/null
"$ROOT/scripts/lab" swarm up --one-node
for _ in $(seq 60); do
    timeout 3 bash -c 'exec 3<>/dev/tcp/198.51.100.17/8081 &&
        printf "GET / HTTP/1.0\r\n\r\n" >&3 && cat <&3' 2>/dev/null | grep -q HTTP/1. && break
    sleep 1
done
ls -R "$HERE"
