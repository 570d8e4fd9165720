#!/usr/bin/env bash
# Fuzzes the readers of untrusted files (Criteo TSV, delimited CSV, record files) for a fixed
# budget: with libFuzzer and AddressSanitizer (swiftc -sanitize=fuzzer,address) where the
# toolchain has them, else with the seeded mutation fuzzer of the same target. A crash fails
# the script and leaves the input that caused it in the working folder (crash-*).
#
#   launch/fuzz.sh [seconds]        (default 60)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
seeds=.build-fuzz/seeds
corpus=.build-fuzz/corpus

swift build -c release --product recsys-dist-fuzz >/dev/null
rm -rf "$seeds"
"$(swift build -c release --show-bin-path)/recsys-dist-fuzz" --write-seeds "$seeds"

# The sanitized build: SwiftPM compiles it; the link is redone with lld (Debian's default gold
# fails on the fuzzer's objects).
build=.build-fuzz/libfuzzer
flags=(-c release --product recsys-dist-fuzz --scratch-path "$build" -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING)
swift build "${flags[@]}" >/dev/null 2>&1 || true
bin=$(swift build "${flags[@]}" --show-bin-path)
fuzzer="$bin/recsys-dist-fuzz-libfuzzer"
if [ -f "$bin/recsys-dist-fuzz.product/Objects.LinkFileList" ] &&
   swiftc -emit-executable -module-name recsys_dist_fuzz -o "$fuzzer" \
       -Xlinker --defsym -Xlinker main=recsys_dist_fuzz_main "@$bin/recsys-dist-fuzz.product/Objects.LinkFileList" \
       $(pkg-config --libs-only-L openblas zlib) -lopenblas -lz -sanitize=fuzzer,address -use-ld=lld 2>/dev/null; then
    mkdir -p "$corpus"
    echo "libFuzzer with AddressSanitizer for $seconds s (seeds in $seeds, corpus kept in $corpus)"
    status=0
    "$fuzzer" -max_total_time="$seconds" -rss_limit_mb=4096 -print_final_stats=1 "$corpus" "$seeds" > .build-fuzz/last-run.log 2>&1 || status=$?
    grep -E "^(INFO: seed corpus|stat::number_of_executed_units|stat::new_units_added|==[0-9]+==ERROR|SUMMARY)" .build-fuzz/last-run.log || true
    echo "corpus now $(ls "$corpus" | wc -l) inputs; full log in .build-fuzz/last-run.log"
    exit $status
else
    echo "no libFuzzer build here: seeded mutation fuzzing for $seconds s"
    "$(swift build -c release --show-bin-path)/recsys-dist-fuzz" "$seeds" "$seconds" 1
fi
