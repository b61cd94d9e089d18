-- etcd.lua: a wrk script driving etcd's v3 JSON gateway the way bench/loadgen drives the
-- Redis-protocol servers: keys key:00000000 .. key:<keys-1> picked at random, 100-byte values,
-- one request in flight per connection (wrk is closed-loop per connection).
--
--   wrk -t T -c N -d S --latency -s bench/etcd.lua http://127.0.0.1:PORT -- put|range [keys] [value_bytes]
--
-- put is POST /v3/kv/put; range is POST /v3/kv/range, linearizable (etcd's default: the
-- member confirms it is up to date with the leader before it answers). Keys and values go
-- base64-encoded, as the gateway wants them. done() prints one key=value line like loadgen's.

local alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

local function base64(s)
	local out = {}
	for i = 1, #s, 3 do
		local a, b, c = s:byte(i, i + 2)
		local n = a * 65536 + (b or 0) * 256 + (c or 0)
		local chars = {}
		for j = 3, 0, -1 do
			local v = math.floor(n / 64 ^ j) % 64
			chars[#chars + 1] = alphabet:sub(v + 1, v + 1)
		end
		if not b then
			chars[3], chars[4] = "=", "="
		elseif not c then
			chars[4] = "="
		end
		out[#out + 1] = table.concat(chars)
	end
	return table.concat(out)
end

local thread_count = 0

function setup(thread)
	thread_count = thread_count + 1
	thread:set("thread_id", thread_count)
end

local op, keys, value_b64, path

function init(args)
	op = args[1] or "put"
	keys = tonumber(args[2] or "100000")
	value_b64 = base64(string.rep("x", tonumber(args[3] or "100")))
	if op ~= "put" and op ~= "range" then
		error("etcd.lua: the operation must be put or range, not " .. op)
	end
	path = "/v3/kv/" .. op
	math.randomseed((thread_id or 1) * 7919 + os.time())
end

local headers = { ["Content-Type"] = "application/json" }

function request()
	local key = base64(string.format("key:%08d", math.random(0, keys - 1)))
	local body
	if op == "put" then
		body = '{"key":"' .. key .. '","value":"' .. value_b64 .. '"}'
	else
		body = '{"key":"' .. key .. '"}'
	end
	return wrk.format("POST", path, headers, body)
end

function done(summary, latency, requests)
	local e = summary.errors
	local errors = e.connect + e.read + e.write + e.status + e.timeout
	local seconds = summary.duration / 1e6
	local ok = summary.requests - e.status
	io.write(string.format(
		"ops=%d seconds=%.3f ops_per_s=%.1f p50_ms=%.3f p99_ms=%.3f p999_ms=%.3f max_ms=%.3f errors=%d\n",
		ok, seconds, ok / seconds, latency:percentile(50) / 1e3, latency:percentile(99) / 1e3,
		latency:percentile(99.9) / 1e3, latency.max / 1e3, errors))
end
