-- Hải Đăng SQLite schema, version 10: label columns and a covering index for Store.facets.
-- The digest and reports count articles per topic, tone, risk level, source and language over
-- date ranges. Reading those labels from each row's JSON document meant reading and parsing every
-- document in the range; with these columns the count reads only the index (bench/facets.py, 50,000
-- articles: all of them 0.75 s -> 0.14 s, a year of relevant ones by month 0.28 s -> 0.04 s). The store
-- writes the columns with the document (haidang/store/facet_sql.py, label_columns); this migration
-- fills them for stored rows (50,000 articles: 1.4 s).
ALTER TABLE articles ADD COLUMN tone TEXT;
ALTER TABLE articles ADD COLUMN risk_level TEXT;
-- JSON array of the assigned topic ids (non-empty strings), each once, sorted.
ALTER TABLE articles ADD COLUMN topics TEXT NOT NULL DEFAULT '[]';

UPDATE articles SET
    tone = COALESCE(
        CASE WHEN json_type(doc, '$.labels.tone') = 'object' AND json_type(doc, '$.labels.tone.label') = 'text'
             THEN NULLIF(json_extract(doc, '$.labels.tone.label'), '') END,
        CASE WHEN json_type(doc, '$.labels.tone') = 'text' THEN NULLIF(json_extract(doc, '$.labels.tone'), '') END),
    risk_level = CASE WHEN json_type(doc, '$.labels.risk.level') = 'text'
                      THEN NULLIF(json_extract(doc, '$.labels.risk.level'), '') END,
    topics = COALESCE((
        SELECT json_group_array(id) FROM (
            SELECT DISTINCT json_extract(j.value, '$.id') AS id
            FROM json_each(CASE WHEN json_type(doc, '$.labels.topics') = 'array' THEN doc END, '$.labels.topics') j
            WHERE j.type = 'object' AND json_type(j.value, '$.id') = 'text' AND json_extract(j.value, '$.id') <> ''
            ORDER BY 1)), '[]');

CREATE INDEX articles_facets ON articles (date_key, relevant, source_id, lang, tone, risk_level, topics);
