# report --rated-w: the caller's rating replaces the one recorded, and a bad one is a usage
# error that says what is wanted.
. "$(dirname "$0")/lib.sh"

expect_status 0 "$WATTPROF" record -q -o t.wptrace --duration 1 --rated-w 5000
expect_status 0 "$WATTPROF" report t.wptrace --json rec.json
check 'j["node"]["rated_w"] == 5000' rec.json
# The fake GPUs alone: an estimate, said as one, with no peak to set against the rating.
check 'j["node"]["estimated"] is True and j["node"]["peak_pct_of_rated"] is None' rec.json
expect_in out.txt "node: estimated mean"
expect_in out.txt "rated 5.00 kW"

expect_status 0 "$WATTPROF" report t.wptrace --rated-w 10200 --json over.json
check 'j["node"]["rated_w"] == 10200' over.json
expect_in out.txt "rated 10.20 kW"
expect_status 0 "$WATTPROF" report t.wptrace --rated-w 1e7 --json -
check 'j["node"]["rated_w"] == 1e7' out.txt

for bad in 0 -5 nan inf 1e8 10kW "" abc 1e7x; do
    expect_status 64 "$WATTPROF" report t.wptrace --rated-w "$bad"
    expect_in err.txt "--rated-w wants the node's rated power in watts"
done
