# scripts/lab-swarm.sh - "scripts/lab swarm up|down|status": a two-node Docker Swarm
# on one machine. Sourced by scripts/lab (uses its die/note/quiet/docker helpers).
# "swarm up --one-node": node 1 alone (where a second dockerd cannot run, e.g. the
# kernel VM's emulation), with nxweb's 2 replicas on it and no nxoverlay.
#
#   node 1   the lab's dockerd, manager, advertising on nx-sw0 (198.51.100.17)
#   node 2   a second dockerd inside netns nx-swarm2, reached over the veth pair
#            nx-sw0 (host) <-> nx-sw1 (netns, 198.51.100.18/30). It has its own
#            data-root, exec-root, pidfile, socket and containerd (it starts its
#            own: there is no system containerd socket). It is started with
#            nsenter --net only, so its mounts (exec-root/netns/*) are visible from
#            the host's mount namespace.
#   nxoverlay  attachable overlay 10.200.0.0/24 spanning both nodes:
#            sw1 (node 1, 10.200.0.11), sw2 (node 2, 10.200.0.12)
#   nxsecure attachable ENCRYPTED overlay (--opt encrypted) 10.201.0.0/24 spanning
#            both nodes: se1 (node 1, 10.201.0.11), se2 (node 2, 10.201.0.12).
#            Docker writes its VNI's u32 rules in the host's mangle OUTPUT (mark
#            0xd0c4e3) and filter INPUT (drop plaintext VXLAN); its traffic needs
#            ESP states, which a kernel without esp4 (CONFIG_INET_ESP) cannot hold:
#            then se1 and se2 cannot reach each other (not waited for here).
#   nxweb    a service (one task, on the manager) publishing 8081 -> 80 through
#            the ingress routing mesh; its image is named by ID, which makes
#            swarm's executor skip any registry pull.
#
# Swarm's underlay traffic (2377/tcp, 7946/tcp+udp, 4789/udp) only crosses the
# veth between the host and nx-swarm2: every address involved is made here.

readonly SW_NS=nx-swarm2
readonly SW_HOST_IF=nx-sw0
readonly SW_NS_IF=nx-sw1
readonly SW_HOST_ADDR=198.51.100.17
readonly SW_NS_ADDR=198.51.100.18
readonly SW_PREFIX=30
readonly SW_ROOT=/var/lib/nx-swarm2
readonly SW_RUN=/run/nx-swarm2
readonly SW_SOCK=$SW_RUN/docker.sock
readonly SW_PIDFILE=$SW_RUN/docker.pid
readonly SW_LOG=/var/log/netexplorer-lab-swarm2.log
readonly SW_NET=nxoverlay
readonly SW_SUBNET=10.200.0.0/24
readonly SW_C1=sw1 SW_C1_IP=10.200.0.11
readonly SW_C2=sw2 SW_C2_IP=10.200.0.12
readonly SW_ENC_NET=nxsecure
readonly SW_ENC_SUBNET=10.201.0.0/24
readonly SW_E1=se1 SW_E1_IP=10.201.0.11
readonly SW_E2=se2 SW_E2_IP=10.201.0.12
readonly SW_SERVICE=nxweb
readonly SW_PORT=8081

d2() { docker -H "unix://$SW_SOCK" "$@"; }
d2_ready() { [[ -S $SW_SOCK ]] && d2 info >/dev/null 2>&1; }

sw_node2_pid() {
    local pid=""
    [[ -r $SW_PIDFILE ]] && pid=$(tr -dc 0-9 <"$SW_PIDFILE")
    [[ -n $pid && $(cat "/proc/$pid/comm" 2>/dev/null) == dockerd ]] && echo "$pid"
    return 0
}

sw_state() { docker info -f '{{.Swarm.LocalNodeState}}' 2>/dev/null; }

sw_ensure_underlay() {
    [[ -e /run/netns/$SW_NS ]] || quiet "ip netns add $SW_NS failed" ip netns add "$SW_NS"
    if ! ip link show "$SW_HOST_IF" >/dev/null 2>&1; then
        quiet "creating veth $SW_HOST_IF failed" \
            ip link add "$SW_HOST_IF" type veth peer name "$SW_NS_IF" netns "$SW_NS"
    fi
    ip addr replace "$SW_HOST_ADDR/$SW_PREFIX" dev "$SW_HOST_IF"
    ip link set "$SW_HOST_IF" up
    ip -n "$SW_NS" addr replace "$SW_NS_ADDR/$SW_PREFIX" dev "$SW_NS_IF"
    ip -n "$SW_NS" link set lo up
    ip -n "$SW_NS" link set "$SW_NS_IF" up
}

sw_start_node2() {
    d2_ready && return 0
    mkdir -p "$SW_ROOT" "$SW_RUN/exec"
    echo '{}' >"$SW_RUN/daemon.json"
    daemonize "$SW_LOG" nsenter --net="/run/netns/$SW_NS" dockerd \
        --config-file "$SW_RUN/daemon.json" --data-root "$SW_ROOT" \
        --exec-root "$SW_RUN/exec" --pidfile "$SW_PIDFILE" -H "unix://$SW_SOCK"
    local i
    for ((i = 0; i < DOCKERD_TIMEOUT * 2; i++)); do
        d2_ready && return 0
        sleep 0.5
    done
    tail -n 20 "$SW_LOG" >&2 || true
    die "node 2's dockerd did not answer within ${DOCKERD_TIMEOUT}s (log: $SW_LOG)"
}

sw_image_node2() {
    local want
    want=$(docker image inspect -f '{{.Id}}' "$IMAGE")
    [[ $(d2 image inspect -f '{{.Id}}' "$IMAGE" 2>/dev/null) == "$want" ]] && return 0
    docker save "$IMAGE" | d2 load >/dev/null || die "loading $IMAGE into node 2 failed"
}

sw_wait() {  # sw_wait SECONDS DESCRIPTION COMMAND...
    local secs=$1 what=$2 i
    shift 2
    for ((i = 0; i < secs * 4; i++)); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.25
    done
    die "timed out after ${secs}s waiting for $what"
}

sw_two_nodes_ready() {
    [[ $(docker node ls -f role=worker --format '{{.Status}}' 2>/dev/null) == Ready ]]
}

sw_task_running() {
    [[ $(docker service ps -f desired-state=running --format '{{.CurrentState}}' \
        "$SW_SERVICE" 2>/dev/null) == Running* ]]
}

# sw_tasks_running N: N tasks of the service are running
sw_tasks_running() {
    [[ $(docker service ps -f desired-state=running --format '{{.CurrentState}}' \
        "$SW_SERVICE" 2>/dev/null | grep -c '^Running') == "$1" ]]
}

sw_http() { [[ $(http_get_host "$SW_HOST_ADDR" "$SW_PORT") == *"HTTP/1."* ]]; }

# GET / from $1:$2 with bash's /dev/tcp; any HTTP answer (busybox httpd says 404).
http_get_host() {
    # shellcheck disable=SC2016
    timeout 3 bash -c 'exec 3<>"/dev/tcp/$1/$2" &&
        printf "GET / HTTP/1.0\r\n\r\n" >&3 && cat <&3' _ "$1" "$2" 2>/dev/null
}

sw_init() {
    docker_ready || die "the lab's dockerd is not running (scripts/lab up)"
    sw_ensure_underlay
    case $(sw_state) in
        active) ;;
        inactive)
            quiet "docker swarm init failed" docker swarm init \
                --advertise-addr "$SW_HOST_ADDR" --listen-addr "$SW_HOST_ADDR:2377" \
                --data-path-addr "$SW_HOST_ADDR"
            ;;
        *) die "the lab's dockerd is in swarm state '$(sw_state)'" ;;
    esac
}

# The published port answers through the ingress mesh where the kernel has IPVS.
sw_check_mesh() {
    # The routing mesh balances with IPVS inside ingress_sbox; a kernel without it
    # (dockerd logs "Could not get ipvs family information from the kernel")
    # publishes nothing, so the port is only checked where IPVS is there.
    if [[ -e /proc/net/ip_vs ]]; then
        sw_wait 60 "$SW_HOST_ADDR:$SW_PORT to answer through the ingress mesh" sw_http
    else
        note "this kernel has no IPVS (/proc/net/ip_vs): the ingress mesh cannot" \
            "deliver $SW_PORT (the service and its task are up)"
    fi
}

# One node: the lab's dockerd alone, nxweb with 2 replicas publishing 8081.
cmd_swarm_up_one_node() {
    sw_init
    if ! docker service inspect "$SW_SERVICE" >/dev/null 2>&1; then
        quiet "docker service create $SW_SERVICE failed" docker service create -d \
            --name "$SW_SERVICE" --label "$LABEL" --no-resolve-image --replicas 2 \
            --publish "published=$SW_PORT,target=80" \
            "$(docker image inspect -f '{{.Id}}' "$IMAGE")" httpd -f -p 80 -h /tmp
    fi
    sw_wait 120 "service $SW_SERVICE's 2 tasks to run" sw_tasks_running 2
    sw_check_mesh
    echo "lab: swarm up (one node, $SW_SERVICE's 2 tasks publishing $SW_PORT)"
}

# sw_overlay_pair NET SUBNET [encrypted] C1 IP1 C2 IP2: an attachable overlay (with
# --opt encrypted when asked) and a busybox on it on each node, unless already there
sw_overlay_pair() {
    local net=$1 subnet=$2 enc=$3 c1=$4 ip1=$5 c2=$6 ip2=$7
    local opts=(-d overlay --attachable --subnet "$subnet" --label "$LABEL")
    if [[ -n $enc ]]; then
        opts+=(--opt encrypted)
    fi
    docker network inspect "$net" >/dev/null 2>&1 ||
        quiet "docker network create $net failed" docker network create "${opts[@]}" "$net"
    docker inspect "$c1" >/dev/null 2>&1 ||
        quiet "docker run $c1 failed" docker run -d --pull never --label "$LABEL" \
            --name "$c1" --network "$net" --ip "$ip1" busybox /bin/sh -c "$SLEEP_LOOP"
    d2 inspect "$c2" >/dev/null 2>&1 ||
        quiet "node 2: docker run $c2 failed" d2 run -d --pull never --label "$LABEL" \
            --name "$c2" --network "$net" --ip "$ip2" busybox /bin/sh -c "$SLEEP_LOOP"
}

cmd_swarm_up() {
    sw_init
    sw_start_node2
    sw_image_node2
    if [[ $(d2 info -f '{{.Swarm.LocalNodeState}}') != active ]]; then
        local token
        token=$(docker swarm join-token -q worker)
        quiet "node 2: docker swarm join failed" d2 swarm join --token "$token" \
            --advertise-addr "$SW_NS_ADDR" --listen-addr "$SW_NS_ADDR:2377" \
            --data-path-addr "$SW_NS_ADDR" "$SW_HOST_ADDR:2377"
    fi
    sw_wait 60 "node 2 to be Ready in 'docker node ls'" sw_two_nodes_ready
    sw_overlay_pair "$SW_NET" "$SW_SUBNET" "" "$SW_C1" "$SW_C1_IP" "$SW_C2" "$SW_C2_IP"
    sw_overlay_pair "$SW_ENC_NET" "$SW_ENC_SUBNET" encrypted \
        "$SW_E1" "$SW_E1_IP" "$SW_E2" "$SW_E2_IP"
    if ! docker service inspect "$SW_SERVICE" >/dev/null 2>&1; then
        quiet "docker service create $SW_SERVICE failed" docker service create -d \
            --name "$SW_SERVICE" --label "$LABEL" --no-resolve-image \
            --constraint node.role==manager --publish "published=$SW_PORT,target=80" \
            "$(docker image inspect -f '{{.Id}}' "$IMAGE")" httpd -f -p 80 -h /tmp
    fi
    sw_wait 60 "service $SW_SERVICE's task to run" sw_task_running
    sw_check_mesh
    # The tunnel: sw1 on node 1 pings sw2 on node 2 across the VXLAN.
    sw_wait 30 "ping $SW_C1 -> $SW_C2_IP across the overlay" \
        docker exec "$SW_C1" ping -c1 -W1 "$SW_C2_IP"
    echo "lab: swarm up (node 2: dockerd $(sw_node2_pid) in netns $SW_NS)"
}

sw_umount_under() {
    local m
    { findmnt -rn -o TARGET | grep -E "^($1)(/|$)" || true; } | sort -r | while read -r m; do
        umount -l "$m" 2>/dev/null || true
    done
}

cmd_swarm_down() {
    local pid i
    if d2_ready; then
        d2 rm -f "$SW_C2" "$SW_E2" >/dev/null 2>&1 || true
        d2 swarm leave --force >/dev/null 2>&1 || true
    fi
    pid=$(sw_node2_pid)
    if [[ -n $pid ]]; then
        kill -TERM "$pid" 2>/dev/null || true
        for ((i = 0; i < 300; i++)); do
            [[ -e /proc/$pid ]] || break
            sleep 0.1
        done
        if [[ -e /proc/$pid ]]; then
            note "node 2's dockerd $pid did not stop, SIGKILL"
            kill -KILL "$pid" || true
        fi
    fi
    if docker_ready; then
        docker rm -f "$SW_C1" "$SW_E1" >/dev/null 2>&1 || true
        docker service rm "$SW_SERVICE" >/dev/null 2>&1 || true
        # a slow daemon (the kernel VM's emulation) may answer "context deadline
        # exceeded" and still be leaving: ask again until the node is inactive
        for i in 1 2 3 4 5 6; do
            [[ $(sw_state) == inactive ]] && break
            docker swarm leave --force >/dev/null 2>&1 || sleep 5
        done
        [[ $(sw_state) == inactive ]] ||
            die "docker swarm leave failed: the node is still '$(sw_state)'"
        # Left behind by the swarm: the gateway bridge network, the ingress chain.
        for i in 1 2 3 4 5 6 7 8 9 10; do
            docker network inspect docker_gwbridge >/dev/null 2>&1 || break
            docker network rm docker_gwbridge >/dev/null 2>&1 && break
            sleep 0.5
        done
        docker network inspect docker_gwbridge >/dev/null 2>&1 &&
            die "docker network rm docker_gwbridge failed"
    fi
    sw_drop_ingress_chains
    sw_drop_encryption_rules
    # A forced leave can keep the overlay/ingress/lb namespace files, unmounted.
    local f
    for f in /var/run/docker/netns/1-* /var/run/docker/netns/lb_* \
        /var/run/docker/netns/ingress_sbox; do
        [[ -e $f ]] || continue
        findmnt -rn "$f" >/dev/null 2>&1 || rm -f "$f"
    done
    sw_umount_under "$SW_RUN|$SW_ROOT"
    rm -rf "$SW_RUN" "$SW_ROOT"
    ip link del "$SW_HOST_IF" 2>/dev/null || true
    if [[ -e /run/netns/$SW_NS ]]; then
        quiet "ip netns del $SW_NS failed" ip netns del "$SW_NS"
    fi
}

# Docker keeps its DOCKER-INGRESS chains (and the jumps to them) after a swarm
# leave; the plain lab has none.
sw_drop_ingress_chains() {
    local mode t
    for mode in nft legacy; do
        for t in nat filter; do
            iptables-"$mode"-save -t "$t" 2>/dev/null | grep -q '^:DOCKER-INGRESS ' || continue
            iptables-"$mode"-save -t "$t" | sed -n 's/^-A \([^ ]*\) \(.*-j DOCKER-INGRESS\)$/\1 \2/p' |
                while read -r chain rest; do
                    # shellcheck disable=SC2086
                    iptables-"$mode" -t "$t" -D "$chain" $rest
                done
            iptables-"$mode" -t "$t" -F DOCKER-INGRESS
            iptables-"$mode" -t "$t" -X DOCKER-INGRESS
        done
    done
}

# An encrypted overlay's rules (u32 on its VNI, in the host's mangle OUTPUT and
# filter INPUT) stay after the swarm is left; the plain lab has none.
sw_drop_encryption_rules() {
    local mode t line
    for mode in nft legacy; do
        for t in mangle filter; do
            { iptables-"$mode"-save -t "$t" 2>/dev/null || true; } |
                { grep -E '^-A (OUTPUT|INPUT) .*--dport 4789 .*-m u32 --u32 ' || true; } |
                while read -r line; do
                    # the saved rule quotes its u32 expression: eval keeps it one word
                    eval "iptables-$mode -t $t -D ${line#-A }"
                done
        done
    done
}

cmd_swarm_status() {
    local ok=0 row_fmt='%-10s %-9s %s\n'
    printf "$row_fmt" node1 "$(sw_state || echo MISSING)" \
        "$(docker info -f '{{.Swarm.NodeAddr}}' 2>/dev/null)"
    [[ $(sw_state) == active ]] || ok=1
    if d2_ready; then
        printf "$row_fmt" node2 "$(d2 info -f '{{.Swarm.LocalNodeState}}')" \
            "dockerd $(sw_node2_pid) in netns $SW_NS, $(d2 info -f '{{.Swarm.NodeAddr}}')"
    else
        printf "$row_fmt" node2 MISSING ""
        ok=1
    fi
    printf "$row_fmt" "$SW_NET" \
        "$(docker network inspect -f '{{.Driver}}' "$SW_NET" 2>/dev/null || echo MISSING)" \
        "$(docker network inspect -f '{{index .Options "com.docker.network.driver.overlay.vxlanid_list"}}' "$SW_NET" 2>/dev/null)"
    printf "$row_fmt" "$SW_ENC_NET" \
        "$(docker network inspect -f '{{.Driver}}' "$SW_ENC_NET" 2>/dev/null || echo MISSING)" \
        "$(docker network inspect -f '{{index .Options "com.docker.network.driver.overlay.vxlanid_list"}} encrypted={{index .Options "encrypted"}}' "$SW_ENC_NET" 2>/dev/null)"
    printf "$row_fmt" "$SW_C1" "$(docker inspect -f '{{.State.Status}}' "$SW_C1" 2>/dev/null || echo MISSING)" node1
    printf "$row_fmt" "$SW_C2" "$(d2 inspect -f '{{.State.Status}}' "$SW_C2" 2>/dev/null || echo MISSING)" node2
    sw_task_running && printf "$row_fmt" "$SW_SERVICE" running "published $SW_PORT" ||
        { printf "$row_fmt" "$SW_SERVICE" MISSING ""; ok=1; }
    return "$ok"
}
