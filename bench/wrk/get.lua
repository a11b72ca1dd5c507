-- Static GET of the URL on the command line, with `Authorization: Bearer $BENCH_TOKEN` when set.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
local auth = bearer()
if auth then wrk.headers["Authorization"] = auth end
