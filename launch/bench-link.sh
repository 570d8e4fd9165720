#!/usr/bin/env bash
# `bench` on 2 ranks as 2 hosts joined by a network link, on one machine (needs root and
# iproute2): two network namespaces on a bridge, each host's way out limited to RATE with tc's
# token bucket (tbf), OpenMPI over TCP between them. Runs the bench with and without the pipelined
# id exchange, so the exposed communication of each can be compared on a link slower than shared
# memory:
#   launch/bench-link.sh RATE [bench options...]      e.g. launch/bench-link.sh 2gbit --model dlrm
# The namespaces, the bridge and the files are removed at the end.
set -euo pipefail
if [ $# -lt 1 ]; then
    echo "usage: $0 RATE [bench options...]   (RATE as tc writes it: 1gbit, 500mbit)" >&2
    exit 2
fi
rate=$1
shift
[ "$(id -u)" -eq 0 ] || { echo "$0: making network namespaces needs root" >&2; exit 1; }
repository=$(cd "$(dirname "$0")/.." && pwd)
binary=${RECSYS_DIST_BIN:-$repository/.build/release/recsys-dist}
[ -x "$binary" ] || { echo "$0: no binary at $binary (swift build -c release)" >&2; exit 1; }

tag=$(printf '%04x' $((RANDOM % 65536)))
network=10.78.$((100 + RANDOM % 150))
bridge=rsbbr$tag
hosts=(rsb${tag}a rsb${tag}b)
folder=$(mktemp -d)
cleanup() {
    for host in "${hosts[@]}"; do ip netns del "$host" 2>/dev/null || true; done
    ip link del "$bridge" 2>/dev/null || true
    rm -rf "$folder"
}
trap cleanup EXIT

ip link add "$bridge" type bridge
ip addr add "$network.1/24" dev "$bridge"
ip link set "$bridge" up
for i in 0 1; do
    host=${hosts[$i]}
    ip netns add "$host"
    ip netns exec "$host" ip link set lo up
    ip link add "rbv$tag$i" type veth peer name "rbp$tag$i"
    ip link set "rbp$tag$i" netns "$host"
    ip link set "rbv$tag$i" master "$bridge" up
    ip netns exec "$host" ip addr add "$network.$((2 + i))/24" dev "rbp$tag$i"
    ip netns exec "$host" ip link set "rbp$tag$i" up
    # Each host sends at most RATE (bursts of 256 KB; packets wait up to 100 ms, none dropped at these sizes).
    ip netns exec "$host" tc qdisc add dev "rbp$tag$i" root tbf rate "$rate" burst 256kb latency 100ms
done
cat > "$folder/agent.sh" <<EOF
#!/bin/sh
host=\$1; shift
case "\$host" in
$network.2) namespace=${hosts[0]} ;;
$network.3) namespace=${hosts[1]} ;;
*) echo "agent: unknown host \$host" >&2; exit 1 ;;
esac
exec ip netns exec "\$namespace" sh -c "\$*"
EOF
chmod +x "$folder/agent.sh"
printf '%s slots=1\n%s slots=1\n' "$network.2" "$network.3" > "$folder/hosts"

run() {
    mpirun --allow-run-as-root --hostfile "$folder/hosts" -np 2 --bind-to core \
        --mca plm_rsh_agent "$folder/agent.sh" --mca btl tcp,self \
        --mca btl_tcp_if_include "$network.0/24" --mca oob_tcp_if_include "$network.0/24" \
        "$binary" bench "$@"
}
echo "== 2 hosts, $rate each way, pipelined id exchange"
run "$@"
echo "== 2 hosts, $rate each way, no pipeline"
run --no-pipeline "$@"
