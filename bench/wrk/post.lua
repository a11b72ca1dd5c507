-- Static POST of BENCH_BODY (JSON) to the URL on the command line, with the bearer token when set.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
wrk.method = "POST"
wrk.body = assert(os.getenv("BENCH_BODY"), "BENCH_BODY not set")
wrk.headers["Content-Type"] = "application/json"
local auth = bearer()
if auth then wrk.headers["Authorization"] = auth end
