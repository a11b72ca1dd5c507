-- W5: POST /organizations with a unique name per request (the slug is derived from it), as the
-- caller of BENCH_TOKEN. BENCH_RUN_ID keeps names unique across warm-up, attempts and runs.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
local run = os.getenv("BENCH_RUN_ID") or tostring(os.time())
local path = os.getenv("BENCH_PATH") or "/organizations"
local headers = { ["Content-Type"] = "application/json", ["Authorization"] = bearer() }
local counter = 0
request = function()
  counter = counter + 1
  local body = string.format('{"name":"W5 %s t%d n%d"}', run, tid, counter)
  return wrk.format("POST", path, headers, body)
end
