-- Baseline B3: PATCH /item/<random id in 1..BENCH_ROWS> {"role": "admin"|"member"}, alternating,
-- one single-row UPDATE in its own transaction on the server.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
local rows = tonumber(os.getenv("BENCH_ROWS") or "1000000")
local headers = { ["Content-Type"] = "application/json" }
local counter = 0
init_hook = function(args) math.randomseed(tid * 7919 + os.time()) end
request = function()
  counter = counter + 1
  local role = (counter % 2 == 0) and "admin" or "member"
  return wrk.format("PATCH", "/item/" .. math.random(1, rows), headers, '{"role":"' .. role .. '"}')
end
