#!/usr/bin/env bash
# Installs every Debian package that building, testing, benchmarking and the demo need.
# Idempotent: packages already present are not touched, and apt is not called at all
# when nothing is missing. Run as root (or with sudo available).
set -eu

packages=(
  # build
  build-essential meson ninja-build pkg-config
  # cryptography (the core's ciphers, MACs and key agreement)
  libsodium-dev
  # netlink (braid emu --netns builds namespaces, links, routes and qdiscs itself)
  libmnl-dev
  # sanitizers and libFuzzer for clang
  clang libclang-rt-14-dev llvm
  # tests and benchmarks
  python3 binutils valgrind procps iproute2 strace
  # interop peers and stream tools
  ffmpeg srt-tools tshark
  # braid tunnel's tests and bench: TCP and UDP through the tunnel, the NAT recipe
  iperf3 nftables
  # RIST peers, the bench's comparison and the netns bench's example runs: librist's
  # ristsender/ristreceiver, GStreamer's ristsink/ristsrc
  rist-tools gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
  gstreamer1.0-plugins-bad
  # examples/encoder-feedback and its test: GStreamer from Python, and x264enc
  python3-gi gir1.2-gstreamer-1.0 gstreamer1.0-plugins-ugly
  # SVG rendering check for the simulator's plots
  librsvg2-bin
  # braidd: gRPC C core with protobuf-c, SQLite, libmicrohttpd; its tests' gRPC client,
  # stub generators and Prometheus parser
  libgrpc-dev protobuf-c-compiler libprotobuf-c-dev libsqlite3-dev libmicrohttpd-dev
  protobuf-compiler protobuf-compiler-grpc python3-grpcio python3-grpc-tools
  python3-prometheus-client
  # braidd's TLS test makes a self-signed certificate
  openssl
  # the manual pages' checks (man -l, groff -ww), the units' (systemd-analyze verify), and
  # the completion's (bash)
  man-db groff-base systemd bash
  # the dashboard's test: a headless browser driven over the DevTools protocol
  chromium python3-websocket
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "deps: installing ${missing[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
    echo "deps: need root to install: ${missing[*]}" >&2; exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
# tshark asks whether non-root users may capture; answer before installing.
echo "wireshark-common wireshark-common/install-setuid boolean false" | $sudo debconf-set-selections
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
