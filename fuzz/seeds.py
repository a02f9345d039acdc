#!/usr/bin/env python3
"""Write the committed seed corpus, fuzz/corpus/<target>/seed-NN, from inputs the tests use.

Run from anywhere: python3 fuzz/seeds.py. Seeds only; libFuzzer's finds are not committed.
"""
import json, os

HERE = os.path.dirname(os.path.abspath(__file__))

def write(target, seeds):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    for i, s in enumerate(seeds):
        if isinstance(s, str):
            s = s.encode()
        with open(os.path.join(d, "seed-%02d" % i), "wb") as f:
            f.write(s)

HDR = "id\tname\tprice\tv"
RECS = "u1\tAda\t10.5\t3\nu2\t bob\t-2e3\t0x10\nu10\tÉve\t\t1K\n"
keys = ["1", "2", "1,1", "2,2n", "1,1r", "2,3nr", "1.2,1.4", "1.0", "1,0", "1x", "1,1hfr",
        "3b,3bn", "2,2g", "1.2b,2.3", "1d", "4h", "id", "name:r", "price:n", "v:n", "u.id",
        "u.id:n", "a,b", "id,price:nr", "nope", "1,1nd", "2n,2g", ":n", "a,b,c", ""]
write("keyspec", [k + "\n" + HDR + "\n" + RECS for k in keys])

objs = [
    {"a": 1, "user": {"id": "u\"1", "tags": ["x", {"k": 0.10}]}, "n": None},
    {"u": {"id": 7}, "amount": "12.50", "ts": "2024-01-02T03:04:05Z"},
    {"k": "\u00e9\u2603", "v": [1, 2, [3, {"w": True}]], "e": {}, "f": []},
]
raw = [
    '{"a":"x\\ty\\n\\u00e9\\ud83d\\ude00","b":-1.5e+10}',
    '{"a":1,"a":2}', '{"a": tru}', '{"a" 1}', '{"a": "x', '[1]', '', '{}',
    '{"\\u0061":"esc name","b":{"c":{"d":[0,1,2]}}}', '{"a":"\\ud800"}',
    '{ "s" : "a\\\\b\\/c" , "t" : false }\r',
]
jpaths = ["a", "user.id", "user.tags.1.k", "u.id", "v.2.1.w", "b.c.d.2", "k", "s", "nope"]
lines = [json.dumps(o) for o in objs] + raw
write("json", [p + "\n" + l for p in jpaths for l in lines[:1]] + [jpaths[i % len(jpaths)] + "\n" + l for i, l in enumerate(lines)])

csvs = [
    'k,v\na,1\nb,2\n', 'k,v\na,"x\ny"\nb,2\n', 'k,v\na,"say ""hi"""\n', 'a,"open\n',
    'k,v\na,1\rb,2\nc,3\n', 'k,v\r\na,1\r\n', '"",""\n,\n', 'a,b"c,d\n', '"a"b,c\n',
    'k,v\na,"' + '\n' * 40 + '"\nb,2\n', 'x\0"y\0"\0z', 'no newline at end', '\n\n\n',
    'id,name\n1,"Smith, J"\n2,"line\r\nbreak"\n3,\n',
]
write("csv", [bytes([c]) + s.encode() for c in (0x00, 0x35, 0xf2) for s in csvs][:40])

toks = [("count", "17"), ("sum:1", "100.00"), ("sum:1", "~1.5e300"), ("sum:1", "!inf"),
        ("sum:1", "99999999999999999999999999999999999999"), ("sum:1", "-0.001"),
        ("mean:1", "10.5/3"), ("min:1", "=-2"), ("max:1", "=1e3"), ("min:1", ""),
        ("first:1", "=a\\tb"), ("last:1", "=x\\\\"), ("countdistinct:1", "a,b\\,c,"),
        ("distinct:1", ""), ("collect:1", "=a,b"), ("collect:1", ""),
        ("var:1", "3;2;2;6;14"), ("stddev:1", "2;1.5;0.5;3;4.5"), ("pvar:1", "0;0;0;0;0"),
        ("pstddev:1", "1;~1;0;~1;~1"), ("median:1", "3"), ("q50:1", "1"), ("count", "x"),
        ("sum:1", "1.0000000000000000000000000000001")]
OPS = ["count", "sum:1", "min:1", "max:1", "mean:1", "first:1", "last:1", "countdistinct:1",
       "distinct:1", "collect:1", "var:1", "stddev:1", "pvar:1", "pstddev:1", "median:1", "q50:1"]
write("partial", [bytes([OPS.index(o)]) + (t + "\t" + t).encode() for o, t in toks])

pf = "xxh3_64(key, seed=0) mod N; keys joined by TAB; v1"
mans = [
    {"tool": "bsplit", "version": "0.1.0", "partitioning": {"method": "hash", "n": 2, "key": ["1"], "partition_function": pf},
     "sorted": None, "parts": [{"name": "part-00000", "records": 3, "bytes": 12}, {"name": "part-00001", "records": 1, "bytes": 4}], "records": 4, "bytes": 16},
    {"tool": "bshuffle", "partitioning": {"method": "hash", "n": 1, "key": [], "partition_function": pf},
     "sorted": {"by": ["1"], "stable": True}, "combine": ["sum:2", "count"], "parts": [{"name": "part-00000.gz"}]},
    {"partitioning": {"n": -1}, "parts": "x"}, {"parts": [None, 1, {"name": 2}]},
]
mraw = [json.dumps(m).encode() for m in mans] + [b"{", b"", b"null", b"[]", b'{"parts":[{"name":"../x"}]}', b"\xff\xfe"]
write("manifest", [b"\x00" + m for m in mraw] + [b"\x01part\x00k%3D1\x00..\x00\x00\xc3\xa9", b"\x03a/b\x00.", b"\x01"])

wh = ["", "1 == a", "2 > 10", "v >= 1.5", "1 ~ ^k1", "1 !~ ^$", "2 != 'x y'", "3 < \"q\"", "1 ~ (",
      "a.b == 3", "user.id = u1", "1-2 == a\tb", "2 > 9\x011 ~ a"]
em = ["", "1", "2,1", "1|upper,2|len", "1-3", "'lit',1", "t|day,t|month,t|year,t|hour", "a.b|trim", "user.id,amount|lower", "\"q\",2-2"]
recs = {0: "a\t12\t2024-01-02T03:04:05Z\nk1\t9.5\t \n", 1: "a,12,x\n,,\n", 2: 'a,"1,2",3\n"x\ny",2\n',
        3: '{"a":{"b":" 3 "},"user":{"id":"u1"},"amount":"ABC","t":"2024-05-06 07:08"}\n{"a":1}\n'}
seeds = []
for i in range(36):
    f = i % 4
    seeds.append(bytes([f | (0x80 if i % 9 == 8 else 0)]) + (wh[i % len(wh)] + "\n" + em[i % len(em)] + "\n" + recs[f]).encode())
write("expr", seeds)
