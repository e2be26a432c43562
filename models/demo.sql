-- make demo: the vector functions at work in the sqlite3 shell.
.headers on
.mode box
SELECT '[0.5, -1, 2, 0]' AS vector,
       hex(bquant('[0.5, -1, 2, 0]')) AS bits,
       embed_json('[0.5, -1, 2, 0]') AS json;

CREATE TEMP TABLE docs(id INTEGER PRIMARY KEY, name TEXT, v TEXT);
INSERT INTO docs(name, v) VALUES
  ('north',      '[0, 1, 0.1, 0]'),
  ('north-east', '[0.7, 0.7, 0, 0.1]'),
  ('east',       '[1, 0, 0, 0.2]'),
  ('south',      '[0, -1, 0.1, 0]'),
  ('west',       '[-1, 0, 0.2, 0]');

-- rank by cosine similarity to a query direction, and compare bit codes
SELECT name,
       round(cosine(v, '[0.9, 0.5, 0, 0]'), 3) AS cosine,
       hamming(bquant(v), bquant('[0.9, 0.5, 0, 0]')) AS hamming
FROM docs ORDER BY cosine DESC;
