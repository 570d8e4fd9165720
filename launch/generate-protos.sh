#!/bin/bash
# Regenerates Sources/Protos/Generated from the .proto files in Sources/Protos/proto with protoc
# (Debian's protobuf-compiler) and swift-protobuf's protoc-gen-swift, built from the version
# Package.swift names (a first build takes minutes; the output is committed, so builds and CI
# never run this).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v protoc >/dev/null || apt-get install -y protobuf-compiler
version=$(sed -n 's|.*swift-protobuf", exact: "\([0-9.]*\)".*|\1|p' Package.swift)
plugin_source=${PROTOC_GEN_SWIFT_SOURCE:-.build-protoc-gen-swift}
if [ ! -d "$plugin_source" ]; then
  git clone --quiet --branch "$version" https://github.com/apple/swift-protobuf "$plugin_source"
fi
(cd "$plugin_source" && swift build -c release --product protoc-gen-swift)
protoc --plugin="protoc-gen-swift=$plugin_source/.build/release/protoc-gen-swift" \
  --swift_out=Sources/Protos/Generated --swift_opt=Visibility=Public \
  --proto_path=Sources/Protos/proto Sources/Protos/proto/*.proto
echo "generated: $(ls Sources/Protos/Generated)"
