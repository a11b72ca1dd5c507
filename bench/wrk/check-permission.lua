-- W9, the permission check: POST /organizations/{org}/permissions/check by many callers, each
-- with its own session token, about itself or about a member of its own organization, and a
-- fraction of role changes by the same callers.
--   BENCH_CALLERS_FILE  one caller a line: "<token> <organization id> <member id>"; the caller
--                       owns the organization, the member is not an owner (as in W8)
--   BENCH_PERMISSIONS   the permissions to check, separated by spaces, taken in rotation
--   BENCH_CHECK_BATCH   0 or unset: one check a request, {"permission": ...}; n > 0: n checks in
--                       one request, {"checks": [{"permission": ...}, ...]}
--   BENCH_WRITE_PCT     % of requests that are writes (0, 1, ...), evenly spaced
-- Callers are split between the wrk threads (caller i goes to thread i mod threads); each request
-- is from a random one of the thread's callers. Checks take the permissions in rotation and
-- alternate between the caller itself (no user_id) and its member (user_id = member id), so that
-- every permission is checked both ways. A write is PATCH /organizations/{org}/members/{member}
-- {"role": ...} by a random caller, flipping its member between admin and member.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
local all = read_lines(assert(os.getenv("BENCH_CALLERS_FILE"), "BENCH_CALLERS_FILE not set"))
local pct = tonumber(os.getenv("BENCH_WRITE_PCT") or "0")
local batch = tonumber(os.getenv("BENCH_CHECK_BATCH") or "0") or 0
local nthr = tonumber(os.getenv("BENCH_THREADS") or "2")
local perms = {}
for p in (os.getenv("BENCH_PERMISSIONS") or ""):gmatch("%S+") do perms[#perms + 1] = p end
assert(#perms > 0, "BENCH_PERMISSIONS not set")
-- the self checks are the same JSON object for every caller
local self_checks = {}
for i, p in ipairs(perms) do self_checks[i] = '{"permission":"' .. p .. '"}' end
local callers, flips = {}, {}
local counter, checks = 0, 0

init_hook = function(args)
  math.randomseed(tid * 7919 + os.time())
  for i, line in ipairs(all) do
    if (i - 1) % nthr == tid - 1 then
      local token, org, member = line:match("^(%S+)%s+(%S+)%s+(%S+)")
      assert(token, "bad caller line: " .. line)
      local member_checks = {}
      for k, p in ipairs(perms) do
        member_checks[k] = '{"permission":"' .. p .. '","user_id":"' .. member .. '"}'
      end
      callers[#callers + 1] = {
        json = { ["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json" },
        check = "/organizations/" .. org .. "/permissions/check",
        member = "/organizations/" .. org .. "/members/" .. member,
        member_checks = member_checks,
      }
    end
  end
  assert(#callers > 0, "no callers for thread " .. tid .. " (fewer callers than wrk threads?)")
end

-- next_check(c): the next check in the rotation, as a JSON object. Checks alternate between the
-- caller and its member, and each round of the permissions swaps the two, so that over two
-- rounds every permission is checked once each way.
local function next_check(c)
  local i, round = checks % #perms, math.floor(checks / #perms)
  checks = checks + 1
  if (i + round) % 2 == 1 then return c.member_checks[i + 1] end
  return self_checks[i + 1]
end

request = function()
  -- request n (0-based) is a write when it crosses a multiple of 100/pct: exactly pct% writes
  local write = pct > 0 and math.floor((counter + 1) * pct / 100) > math.floor(counter * pct / 100)
  counter = counter + 1
  local c = callers[math.random(#callers)]
  if write then
    flips[c] = not flips[c]
    local role = flips[c] and "admin" or "member"
    return wrk.format("PATCH", c.member, c.json, '{"role":"' .. role .. '"}')
  end
  if batch <= 0 then
    return wrk.format("POST", c.check, c.json, next_check(c))
  end
  local list = {}
  for i = 1, batch do list[i] = next_check(c) end
  return wrk.format("POST", c.check, c.json, '{"checks":[' .. table.concat(list, ",") .. "]}")
end
