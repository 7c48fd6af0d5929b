-- wrk script: inbound Twilio SMS, each request a pre-signed body read from a file.
--
--   wrk -s bench/wrk_twilio.lua URL -- BODIES THREADS EXPECT
--
-- BODIES has one request a line: X-Twilio-Signature, a tab, the form-encoded body (written
-- by bench/webload.py, signed over PUBLIC_BASE_URL + /webhooks/twilio/sms). Thread t sends
-- lines t, t + THREADS, ...; if it runs out it starts again and counts the lines it sent
-- twice ("reused": a real app answers those from its stored reply, so they must be 0 for
-- the real app's figures to count). done() prints "WRKJSON {...}" like wrk_ussd.lua.
local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  local file = args[1]
  nthreads = tonumber(args[2] or "1")
  expect = args[3] or ""
  counter, bad_status, bad_body, reused = 0, 0, 0, 0
  sigs, bodies = {}, {}
  local i = 0
  for line in io.lines(file) do
    if i % nthreads == tid then
      local tab = line:find("\t", 1, true)
      table.insert(sigs, line:sub(1, tab - 1))
      table.insert(bodies, line:sub(tab + 1))
    end
    i = i + 1
  end
  n = #bodies
end

function request()
  local k = counter % n + 1
  if counter >= n then reused = reused + 1 end
  counter = counter + 1
  return wrk.format("POST", "/webhooks/twilio/sms",
    {["Content-Type"] = "application/x-www-form-urlencoded", ["X-Twilio-Signature"] = sigs[k]}, bodies[k])
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    bad_status = bad_status + 1
  elseif body:sub(1, #expect) ~= expect then
    bad_body = bad_body + 1
  end
end

function done(summary, latency, requests)
  local bs, bb, used, re = 0, 0, 0, 0
  for _, t in ipairs(threads) do
    bs = bs + t:get("bad_status")
    bb = bb + t:get("bad_body")
    used = used + t:get("counter")
    re = re + t:get("reused")
  end
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,"write":%d,' ..
    '"status":%d,"timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f,' ..
    '"bad_status":%d,"bad_body":%d,"sent":%d,"reused":%d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean,
    bs, bb, used, re))
end
