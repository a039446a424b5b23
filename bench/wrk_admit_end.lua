-- wrk script: each connection admits a call (unique external id) and, when it
-- was admitted, ends it with the next request. Used by bench/http_bench.sh.
local counter = 0
local pending = {}
local token = os.getenv("CALLTRACK_ADMIN_TOKEN") or ""
local headers = { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token }
-- Each wrk thread gets its own prefix (a global set by setup, which runs in
-- the main state: a file-level local here would shadow it, giving every
-- thread, and every run, the same ids). Seeded per run, so that a second run
-- against the same database admits new calls rather than retries.
math.randomseed(os.time())
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("prefix", string.format("%d-%d-%d", os.time(), threads, math.random(1, 1000000000)))
end

function request()
  local id = table.remove(pending)
  if id then
    return wrk.format("POST", "/v1/calls/" .. id .. "/end", headers, "{}")
  end
  counter = counter + 1
  return wrk.format("POST", "/v1/calls", headers,
    string.format('{"client_id":"bench","external_id":"w%s-%d"}', prefix, counter))
end

function response(status, hdrs, body)
  if status == 201 then
    local id = body:match('"id":(%d+)')
    if id then table.insert(pending, id) end
  elseif status ~= 200 then
    errors_seen = (errors_seen or 0) + 1
  end
end
