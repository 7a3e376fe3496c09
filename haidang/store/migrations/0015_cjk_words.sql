-- Chinese, Japanese and Korean characters become words of their own in the full-text index
-- (haidang.store.fts.index_form; query.WORD_RE splits queries the same way), so 广义省 finds
-- 越南广义省李山岛 and 꽝응아이 finds 꽝응아이성에서. Rows stored before kept a run of such
-- characters as one token: re-space them. Other rows are left as they are.
UPDATE articles_fts SET title = haidang_index_form(title), text = haidang_index_form(text)
WHERE haidang_index_form(title) IS NOT title OR haidang_index_form(text) IS NOT text;
