-- wrk script: like post.lua, and each connection waits $DELAY_MS between requests (a fixed offered rate of about
-- connections × 1000 / DELAY_MS requests/s, for latency at a given load).
local f = assert(io.open(os.getenv("BODY"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
local key = os.getenv("KEY")
if key and key ~= "" then wrk.headers["x-functions-key"] = key end
local pause = tonumber(os.getenv("DELAY_MS") or "1")
function delay() return pause end
