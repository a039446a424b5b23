-- wrk script: each connection admits a call (unique external id) and, when it
-- was admitted, ends it with the next request. Used by bench/http_bench.sh.
local counter = 0
local pending = {}
local token = os.getenv("CALLTRACK_ADMIN_TOKEN") or ""
local headers = { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token }
local prefix = tostring(math.random(1, 1000000000))

function setup(thread)
  thread:set("prefix", tostring(math.random(1, 1000000000)))
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
