-- wrk script: every request admits a new call (unique external id) and keeps
-- it live, the same work as the Redis script and the PostgreSQL function of
-- bench/peers.sh. Responses other than 201 are counted and reported.
local counter = 0
local token = os.getenv("CALLTRACK_ADMIN_TOKEN") or ""
local headers = { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token }
math.randomseed(os.time())
local threads = 0
local all = {}

function setup(thread)
  threads = threads + 1
  thread:set("prefix", string.format("%d-%d-%d", os.time(), threads, math.random(1, 1000000000)))
  table.insert(all, thread)
end

function request()
  counter = counter + 1
  return wrk.format("POST", "/v1/calls", headers,
    string.format('{"client_id":"bench","external_id":"a%s-%d"}', prefix, counter))
end

function response(status, hdrs, body)
  if status ~= 201 then
    refused = (refused or 0) + 1
  end
end

function done(summary, latency, requests)
  local bad = 0
  for _, t in ipairs(all) do bad = bad + (t:get("refused") or 0) end
  io.write(string.format("not_admitted %d\n", bad))
end
