-- wrk script of make bench: counts responses that are not 200 (a redirect to the sign-in
-- page would otherwise look like a fast page) and prints one JSON line at the end with
-- the latency percentiles, in microseconds.
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  not_ok = 0
  first_bad = 0
end

function response(status, headers, body)
  if status ~= 200 then
    not_ok = not_ok + 1
    if first_bad == 0 then first_bad = status end
  end
end

function done(summary, latency, requests)
  local bad, bad_status = 0, 0
  for _, thread in ipairs(threads) do
    bad = bad + thread:get("not_ok")
    local status = thread:get("first_bad")
    if status ~= 0 then bad_status = status end
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests": %d, "duration_us": %d, "bytes": %d, "p50_us": %d, "p95_us": %d, '
      .. '"p99_us": %d, "max_us": %d, "mean_us": %.1f, "not_200": %d, "not_200_status": %d, '
      .. '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}}\n',
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max,
    latency.mean, bad, bad_status,
    e.connect, e.read, e.write, e.status, e.timeout))
end
