-- Shared wrk hooks: count every non-2xx response (wrk itself counts only >399) and print one
-- machine-readable BENCH_RESULT line at the end. Request scripts `dofile` this first, then
-- define `request` (dynamic) or set wrk.method/wrk.body/wrk.headers (static).
local threads = {}
local nthreads = 0

function setup(thread)
  nthreads = nthreads + 1
  thread:set("tid", nthreads)
  table.insert(threads, thread)
end

function read_lines(path)
  local t = {}
  local f = assert(io.open(path, "r"), "cannot open " .. tostring(path))
  for line in f:lines() do if #line > 0 then t[#t + 1] = line end end
  f:close()
  return t
end

-- "Bearer <token>" from BENCH_TOKEN, or nil when it is unset/empty.
function bearer()
  local token = os.getenv("BENCH_TOKEN")
  if token and #token > 0 then return "Bearer " .. token end
  return nil
end

function init(args)
  non2xx = 0
  first_bad = ""
  if init_hook then init_hook(args) end
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
    if first_bad == "" then first_bad = tostring(status) .. " " .. string.sub(body or "", 1, 160) end
  end
end

function done(summary, latency, requests)
  local bad, sample = 0, ""
  for _, t in ipairs(threads) do
    bad = bad + (t:get("non2xx") or 0)
    local fb = t:get("first_bad")
    if sample == "" and fb and fb ~= "" then sample = fb end
  end
  local e = summary.errors
  local secs = summary.duration / 1e6
  io.write(string.format(
    "BENCH_RESULT requests=%d seconds=%.2f rps=%.1f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f non2xx=%d sock_connect=%d sock_read=%d sock_write=%d sock_timeout=%d\n",
    summary.requests, secs, summary.requests / secs,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, bad, e.connect, e.read, e.write, e.timeout))
  if sample ~= "" then io.write("BENCH_FIRST_NON2XX " .. sample:gsub("\n", " ") .. "\n") end
end
