# Shell helpers shared by the scripts (source it; it defines functions only).

# apt_install PKG...: installs the Debian packages that are missing, quietly; nothing if all are there.
apt_install() {
  local need=() pkg sudo=""
  for pkg in "$@"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
  done
  [ ${#need[@]} -eq 0 ] && return 0
  echo "installing: ${need[*]}"
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
}

# netns_cluster TAG NET: three network namespaces ${TAG}c (a bridge at NET.1), ${TAG}w1 and ${TAG}w2
# (NET.11 and NET.12 on veth links ${TAG}v1/${TAG}v2 into the bridge). NET is like 10.77.0.
# Sets C, W1 and W2. Needs root and iproute2; the caller deletes the namespaces.
netns_cluster() {
  local tag=$1 net=$2 i=0 ns
  C="${tag}c"; W1="${tag}w1"; W2="${tag}w2"
  for ns in "$C" "$W1" "$W2"; do ip netns delete "$ns" 2>/dev/null || true; ip netns add "$ns"; done
  ip -n "$C" link set lo up
  ip -n "$C" link add br0 type bridge
  ip -n "$C" addr add "$net.1/24" dev br0
  ip -n "$C" link set br0 up
  for ns in "$W1" "$W2"; do
    i=$((i + 1))
    ip link add "${tag}v$i" type veth peer name "${tag}p$i"
    ip link set "${tag}v$i" netns "$ns"
    ip link set "${tag}p$i" netns "$C"
    ip -n "$C" link set "${tag}p$i" master br0
    ip -n "$C" link set "${tag}p$i" up
    ip -n "$ns" link set lo up
    ip -n "$ns" addr add "$net.1$i/24" dev "${tag}v$i"
    ip -n "$ns" link set "${tag}v$i" up
  done
}
