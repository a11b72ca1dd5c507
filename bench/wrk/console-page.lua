-- W10, the web console under realistic traffic: the callers of W8, each signed in to the console
-- with its own session cookie, each opening its own organization's members page
-- (GET /console/orgs/{org}/members: an HTML page made from the caller's account, the
-- organization, the caller's permissions, the roles and the first 50 members, each read through
-- the public API in process).
--   BENCH_CALLERS_FILE  one caller a line: "<token> <organization id> <member id>"
-- Callers are split between the wrk threads and taken round-robin.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
local all = read_lines(assert(os.getenv("BENCH_CALLERS_FILE"), "BENCH_CALLERS_FILE not set"))
local nthr = tonumber(os.getenv("BENCH_THREADS") or "2")
local callers = {}
local counter = 0

init_hook = function(args)
  for i, line in ipairs(all) do
    if (i - 1) % nthr == tid - 1 then
      local token, org = line:match("^(%S+)%s+(%S+)")
      assert(token, "bad caller line: " .. line)
      callers[#callers + 1] = {
        headers = { ["Cookie"] = "orgd_session=" .. token },
        path = "/console/orgs/" .. org .. "/members",
      }
    end
  end
  assert(#callers > 0, "no callers for thread " .. tid .. " (fewer callers than wrk threads?)")
end

request = function()
  local c = callers[counter % #callers + 1]
  counter = counter + 1
  return wrk.format("GET", c.path, c.headers)
end
