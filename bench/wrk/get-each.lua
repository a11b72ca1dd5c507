-- GET BENCH_PATH_PREFIX .. <id>, cycling over BENCH_IDS_FILE (one id per line), the two wrk
-- threads interleaved, with the bearer token. W4: one member of the big organization.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
local ids = read_lines(os.getenv("BENCH_IDS_FILE"))
local prefix = assert(os.getenv("BENCH_PATH_PREFIX"), "BENCH_PATH_PREFIX not set")
local nthr = tonumber(os.getenv("BENCH_THREADS") or "2")
local headers = { ["Authorization"] = bearer() }
local counter = 0
request = function()
  local i = counter * nthr + tid - 1
  counter = counter + 1
  return wrk.format("GET", prefix .. ids[i % #ids + 1], headers)
end
