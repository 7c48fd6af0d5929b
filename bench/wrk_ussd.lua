-- wrk script: Africa's Talking USSD steps, a new session (and a new phone) on every request.
--
--   wrk -s bench/wrk_ussd.lua URL -- TOKEN TEXT RUN NONCE THREADS EXPECT
--
-- TEXT is the form-encoded `text` field ("" for the first screen, "1", "3%2A14010101", ...).
-- RUN (two digits) and NONCE make session ids and phone numbers unique per run; each
-- request k of thread t gets u = k * THREADS + t. EXPECT is the prefix a correct answer's
-- body starts with ("CON ", "END "). done() prints one line "WRKJSON {...}" that
-- bench/webload.py reads: wrk's own counts and percentiles, plus answers that were not 2xx
-- and 2xx answers whose body did not start with EXPECT.
local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  token, text, run, nonce = args[1], args[2] or "", args[3] or "10", args[4] or "x"
  nthreads = tonumber(args[5] or "1")
  expect = args[6] or ""
  counter, bad_status, bad_body = 0, 0, 0
  path = "/webhooks/africastalking/ussd?token=" .. token
  headers = {["Content-Type"] = "application/x-www-form-urlencoded"}
end

function request()
  local u = counter * nthreads + tid
  counter = counter + 1
  local body = "sessionId=ATUid_" .. nonce .. run .. "_" .. u ..
    "&phoneNumber=%2B8551" .. run .. string.format("%06d", u % 1000000) ..
    "&serviceCode=%2A384%2A123%23&networkCode=99999&text=" .. text
  return wrk.format("POST", path, headers, body)
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    bad_status = bad_status + 1
  elseif body:sub(1, #expect) ~= expect then
    bad_body = bad_body + 1
  end
end

function done(summary, latency, requests)
  local bs, bb, used = 0, 0, 0
  for _, t in ipairs(threads) do
    bs = bs + t:get("bad_status")
    bb = bb + t:get("bad_body")
    used = used + t:get("counter")
  end
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,"write":%d,' ..
    '"status":%d,"timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f,' ..
    '"bad_status":%d,"bad_body":%d,"sent":%d,"reused":0}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean,
    bs, bb, used))
end
