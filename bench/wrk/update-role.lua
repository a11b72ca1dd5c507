-- W6: PATCH BENCH_PATH_PREFIX .. <member id> {"role": ...}, cycling over BENCH_IDS_FILE (one user
-- id per line, the two wrk threads interleaved) and flipping admin <-> member on every pass, as
-- the caller of BENCH_TOKEN (the organization's owner).
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
local ids = read_lines(os.getenv("BENCH_IDS_FILE"))
local prefix = assert(os.getenv("BENCH_PATH_PREFIX"), "BENCH_PATH_PREFIX not set")
local nthr = tonumber(os.getenv("BENCH_THREADS") or "2")
local headers = { ["Content-Type"] = "application/json", ["Authorization"] = bearer() }
local counter = 0
request = function()
  local i = counter * nthr + tid - 1
  counter = counter + 1
  local role = (math.floor(i / #ids) % 2 == 0) and "admin" or "member"
  return wrk.format("PATCH", prefix .. ids[i % #ids + 1], headers, '{"role":"' .. role .. '"}')
end
