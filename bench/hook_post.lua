-- wrk script for bench/bench_hook.sh (issue 6, "Performance").
--
--   wrk ... -s bench/hook_post.lua URL -- TOKEN TARGETS [MODE]
--     TOKEN    the daemon's bearer token
--     TARGETS  number of targets; ids are t-0 .. t-(TARGETS-1)
--     MODE     "hook" (default): POST /hooks/connection-error with a valid
--              body {"target":"t-N","error":...,"source":...}, cycling over
--              every id; "healthz": GET /healthz through the same script,
--              so the baseline pays wrk the same Lua cost per request.
--
-- Every request is formatted once in init(); request() only hands out the
-- next one, so wrk's own CPU stays small. No response() function: defining
-- one makes wrk parse every answer in Lua. The driver checks the answers
-- from wrk's non-2xx count and the daemon's healthsweep_hook_requests_total.

local threads = 0
function setup(thread)
  thread:set("thread_index", threads)
  threads = threads + 1
end

local requests = {}
local count = 0
local next_index = 0

function init(args)
  local token = args[1] or error("hook_post.lua: TOKEN argument missing")
  local targets = tonumber(args[2] or "1000")
  local mode = args[3] or "hook"
  if mode == "healthz" then
    requests[1] = wrk.format("GET", "/healthz")
  else
    local headers = {
      ["Authorization"] = "Bearer " .. token,
      ["Content-Type"] = "application/json",
    }
    for i = 0, targets - 1 do
      local body = string.format(
        '{"target":"t-%d","error":"connect ECONNREFUSED 10.0.0.%d:8080","source":"a2a-proxy"}',
        i, i % 250)
      requests[i + 1] = wrk.format("POST", "/hooks/connection-error", headers, body)
    end
  end
  count = #requests
  -- Threads start at different ids so they do not report the same target
  -- at the same moment.
  next_index = ((thread_index or 0) * math.floor(count / 2)) % count
end

function request()
  next_index = next_index + 1
  if next_index > count then next_index = 1 end
  return requests[next_index]
end
