# Durations outside a millisecond to a year, or not finite, are usage errors (64) that say the
# allowed range; before, `record -d 1e19` overflowed and stopped at once with exit 0.
. "$(dirname "$0")/lib.sh"

# 0x10: strtod reads hexadecimal (16 s), which no one types for seconds
for d in 1e19 nan NaN inf -inf infinity -5 0 0s 0.0001 366d 8761h 1e308 99999999999m 0x10 0X1p4 ''; do
    expect_status 64 "$WATTPROF" record -q -o d.wptrace --duration "$d"
    expect_in err.txt "365 days"
    [ ! -e d.wptrace ] || fail "--duration '$d' created a trace"
done
# The edges and the suffixes still work (parsed before anything is recorded: -h shows it).
for d in 0.001 31536000 525600m 8760h 90s .5 +2; do
    expect_status 0 "$WATTPROF" record --duration "$d" --help
done
expect_status 0 "$WATTPROF" record -q -o ok.wptrace --duration 0.5
