-- W8, realistic traffic: many callers, each with its own session token, each reading its own
-- organization (GET /organizations/{org}), and a fraction of writes issued by the same callers.
--   BENCH_CALLERS_FILE  one caller a line: "<token> <organization id> <member id>"; the caller
--                       owns the organization, the member is not an owner
--   BENCH_WRITE_PCT     % of requests that are writes (0, 1, 5, ...), evenly spaced
-- Callers are split between the wrk threads (caller i goes to thread i mod threads) and each
-- thread takes its callers round-robin for reads, and in a rotation of their own for writes, so
-- every token reads and writes. A caller's writes alternate between PATCH /organizations/{org}
-- {"description": ...} and PATCH /organizations/{org}/members/{member} {"role": ...}, which
-- flips that member between member and admin.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
local all = read_lines(assert(os.getenv("BENCH_CALLERS_FILE"), "BENCH_CALLERS_FILE not set"))
local pct = tonumber(os.getenv("BENCH_WRITE_PCT") or "0")
local nthr = tonumber(os.getenv("BENCH_THREADS") or "2")
local run = os.getenv("BENCH_RUN_ID") or tostring(os.time())
local callers, flips = {}, {}
local counter, writes = 0, 0

init_hook = function(args)
  for i, line in ipairs(all) do
    if (i - 1) % nthr == tid - 1 then
      local token, org, member = line:match("^(%S+)%s+(%S+)%s+(%S+)")
      assert(token, "bad caller line: " .. line)
      callers[#callers + 1] = {
        auth = { ["Authorization"] = "Bearer " .. token },
        json = { ["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json" },
        org = "/organizations/" .. org,
        member = "/organizations/" .. org .. "/members/" .. member,
      }
    end
  end
  assert(#callers > 0, "no callers for thread " .. tid .. " (fewer callers than wrk threads?)")
end

request = function()
  -- request n (0-based) is a write when it crosses a multiple of 100/pct: exactly pct% writes
  local write = pct > 0 and math.floor((counter + 1) * pct / 100) > math.floor(counter * pct / 100)
  if not write then
    local c = callers[counter % #callers + 1]
    counter = counter + 1
    return wrk.format("GET", c.org, c.auth)
  end
  counter = counter + 1
  -- writes take the callers in their own rotation, so that every caller writes in turn; each
  -- caller alternates between the two kinds of write from one round to the next
  local i, round = writes % #callers, math.floor(writes / #callers)
  writes = writes + 1
  local c = callers[i + 1]
  if (i + round) % 2 == 0 then
    local body = string.format('{"description":"W8 %s t%d w%d"}', run, tid, writes)
    return wrk.format("PATCH", c.org, c.json, body)
  end
  flips[c] = not flips[c]
  local role = flips[c] and "member" or "admin"
  return wrk.format("PATCH", c.member, c.json, '{"role":"' .. role .. '"}')
end
