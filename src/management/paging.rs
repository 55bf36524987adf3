//! RabbitMQ's list parameters, shared by every listing: `page`, `page_size`, `name`,
//! `use_regex`, `sort`, `sort_reverse` and `columns`.
//!
//! Without `page` a listing is a JSON array; with it, an object with `items`, `page`,
//! `page_count`, `page_size`, `filtered_count`, `item_count` and `total_count`. Filtering
//! and the default sort (vhost, then name) look only at names, so only the requested page
//! is rendered: a page of 100,000 queues costs a name sort and one page of JSON. Sorting by
//! another field reads that one field of every filtered item (listings that can compute it
//! without rendering the item pass [`ListQuery::respond_sorted`] a way to) and renders only
//! the page.

use super::error::{ApiError, ApiResult};
use serde_json::{Map, Value};
use std::collections::HashMap;

/// The largest page RabbitMQ serves.
pub const MAX_PAGE_SIZE: u64 = 500;
/// The page size when none is given.
pub const DEFAULT_PAGE_SIZE: u64 = 100;
/// The most compiled-regex memory a `name` filter may use.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// Parsed list parameters.
#[derive(Debug, Default)]
pub struct ListQuery {
    page: Option<u64>,
    page_size: u64,
    name: Option<NameFilter>,
    sort: Option<String>,
    sort_reverse: bool,
    columns: Option<Vec<Vec<String>>>,
}

#[derive(Debug)]
enum NameFilter {
    Substring(String),
    Regex(regex::Regex),
}

impl NameFilter {
    fn matches(&self, name: &str) -> bool {
        match self {
            NameFilter::Substring(s) => name.to_lowercase().contains(s.as_str()),
            NameFilter::Regex(re) => re.is_match(name),
        }
    }
}

fn parse_bool(v: Option<&String>) -> bool {
    v.is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

/// RabbitMQ's answer to pagination parameters that are not numbers (or a bad regex).
fn invalid_parameters() -> ApiError {
    ApiError::BadRequest("Pagination parameters are invalid".to_string())
}

/// `columns` (dotted paths) of `item`.
fn select(columns: &[Vec<String>], item: Value) -> Value {
    let mut out = Map::new();
    for path in columns {
        // RabbitMQ selects inside statistics objects but returns an `arguments` table
        // whole (`arguments.x-max-length` gives every argument), checked live.
        let path = match path.first() {
            Some(first) if first == "arguments" => &path[..1],
            _ => path.as_slice(),
        };
        if let Some(v) = lookup(&item, path) {
            insert_path(&mut out, path, v.clone());
        }
    }
    Value::Object(out)
}

/// The `columns` parameter as dotted paths; `None` when absent or empty.
fn parse_columns(params: &HashMap<String, String>) -> Option<Vec<Vec<String>>> {
    params.get("columns").filter(|c| !c.is_empty()).map(|c| {
        c.split(',')
            .filter(|s| !s.is_empty())
            .map(|s| s.split('.').map(str::to_string).collect())
            .collect()
    })
}

/// Keeps only the requested `columns` of a single answer (`/api/overview?columns=node`),
/// as RabbitMQ applies them to every answer, not only to lists.
pub fn columns_of(params: &HashMap<String, String>, item: Value) -> Value {
    match parse_columns(params) {
        Some(columns) => select(&columns, item),
        None => item,
    }
}

fn parse_number(params: &HashMap<String, String>, key: &str) -> ApiResult<Option<u64>> {
    match params.get(key) {
        None => Ok(None),
        Some(v) => v
            .trim()
            .parse::<u64>()
            .map(Some)
            .map_err(|_| invalid_parameters()),
    }
}

impl ListQuery {
    /// Reads the parameters from a query string map.
    pub fn parse(params: &HashMap<String, String>) -> ApiResult<ListQuery> {
        let page = parse_number(params, "page")?;
        let size = parse_number(params, "page_size")?;
        let page_size = size.unwrap_or(DEFAULT_PAGE_SIZE);
        if let Some(page) = page
            && (page == 0 || !(1..=MAX_PAGE_SIZE).contains(&page_size))
        {
            let size = size.map_or("undefined".to_string(), |s| s.to_string());
            return Err(ApiError::InvalidPagination(format!(
                "Invalid pagination parameters: page number {page}, page size {size}"
            )));
        }
        let name = match params.get("name").filter(|n| !n.is_empty()) {
            None => None,
            Some(n) if parse_bool(params.get("use_regex")) => {
                match regex::RegexBuilder::new(n)
                    .size_limit(REGEX_SIZE_LIMIT)
                    .build()
                {
                    Ok(re) => Some(NameFilter::Regex(re)),
                    // RabbitMQ refuses a bad regex in a paged request and ignores it in a
                    // plain listing (checked live).
                    Err(_) if page.is_some() => return Err(invalid_parameters()),
                    Err(_) => None,
                }
            }
            Some(n) => Some(NameFilter::Substring(n.to_lowercase())),
        };
        let columns = parse_columns(params);
        Ok(ListQuery {
            page,
            page_size,
            name,
            sort: params.get("sort").filter(|s| !s.is_empty()).cloned(),
            sort_reverse: parse_bool(params.get("sort_reverse")),
            columns,
        })
    }

    /// Keeps only the requested columns of one rendered item.
    pub fn select_columns(&self, item: Value) -> Value {
        match &self.columns {
            Some(columns) => select(columns, item),
            None => item,
        }
    }

    /// Filters, sorts and pages `items`, rendering only what is returned. `key` gives each
    /// item's (vhost, name) for the name filter and the default order.
    pub fn respond<T>(
        &self,
        items: Vec<T>,
        key: impl Fn(&T) -> (&str, &str),
        render: impl Fn(&T) -> Value,
    ) -> ApiResult<Value> {
        self.respond_sorted(
            items,
            key,
            |item, path| lookup(&render(item), path).cloned(),
            &render,
        )
    }

    /// As [`ListQuery::respond`], with `sort_value` giving an item's value at a `sort`
    /// path (`["messages"]`, `["message_stats", "publish"]`), exactly as `render` would show
    /// it, `None` when the rendering has no such field.
    pub fn respond_sorted<T>(
        &self,
        items: Vec<T>,
        key: impl Fn(&T) -> (&str, &str),
        sort_value: impl Fn(&T, &[String]) -> Option<Value>,
        render: impl Fn(&T) -> Value,
    ) -> ApiResult<Value> {
        let total = items.len();
        let mut items: Vec<T> = match &self.name {
            Some(filter) => items
                .into_iter()
                .filter(|i| filter.matches(key(i).1))
                .collect(),
            None => items,
        };
        let filtered = items.len();
        // Ties keep the default (vhost, name) order, as in RabbitMQ.
        items.sort_by(|a, b| key(a).cmp(&key(b)));
        let rendered: Vec<Value> = match &self.sort {
            None => {
                if self.sort_reverse {
                    items.reverse();
                }
                let (start, end) = self.bounds(filtered)?;
                items
                    .get(start..end)
                    .unwrap_or_default()
                    .iter()
                    .map(&render)
                    .collect()
            }
            Some(sort) => {
                let path: Vec<String> = sort.split('.').map(str::to_string).collect();
                let mut keyed: Vec<(Option<Value>, T)> = items
                    .into_iter()
                    .map(|i| (sort_value(&i, &path), i))
                    .collect();
                keyed.sort_by(|a, b| compare(a.0.as_ref(), b.0.as_ref()));
                if self.sort_reverse {
                    keyed.reverse();
                }
                let (start, end) = self.bounds(filtered)?;
                keyed
                    .get(start..end)
                    .unwrap_or_default()
                    .iter()
                    .map(|(_, i)| render(i))
                    .collect()
            }
        };
        let rendered: Vec<Value> = rendered
            .into_iter()
            .map(|v| self.select_columns(v))
            .collect();
        let Some(page) = self.page else {
            return Ok(Value::Array(rendered));
        };
        let page_count = (filtered as u64).div_ceil(self.page_size);
        Ok(serde_json::json!({
            "filtered_count": filtered,
            "item_count": rendered.len(),
            "items": rendered,
            "page": page,
            "page_count": page_count,
            "page_size": self.page_size,
            "total_count": total,
        }))
    }

    /// The slice of `n` filtered items this request asks for.
    fn bounds(&self, n: usize) -> ApiResult<(usize, usize)> {
        let Some(page) = self.page else {
            return Ok((0, n));
        };
        let size = usize::try_from(self.page_size).unwrap_or(usize::MAX);
        let start = usize::try_from(page - 1)
            .unwrap_or(usize::MAX)
            .saturating_mul(size);
        if start > 0 && start >= n {
            return Err(ApiError::BadRequest("page out of range".to_string()));
        }
        Ok((start, start.saturating_add(size).min(n)))
    }
}

/// The value at `path` inside `v`.
pub fn lookup<'a>(v: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(v, |v, k| v.get(k))
}

fn insert_path(out: &mut Map<String, Value>, path: &[String], v: Value) {
    match path {
        [] => {}
        [last] => {
            out.insert(last.clone(), v);
        }
        [first, rest @ ..] => {
            let entry = out
                .entry(first.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(map) = entry {
                insert_path(map, rest, v);
            }
        }
    }
}

/// Orders JSON values: missing first, then numbers, then strings, then the rest by text.
fn compare(a: Option<&Value>, b: Option<&Value>) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(Value::Number(x)), Some(Value::Number(y))) => {
            let (x, y) = (x.as_f64().unwrap_or(0.0), y.as_f64().unwrap_or(0.0));
            x.partial_cmp(&y).unwrap_or(Ordering::Equal)
        }
        (Some(Value::Number(_)), Some(_)) => Ordering::Less,
        (Some(_), Some(Value::Number(_))) => Ordering::Greater,
        (Some(Value::String(x)), Some(Value::String(y))) => x.cmp(y),
        (Some(x), Some(y)) => x.to_string().cmp(&y.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(pairs: &[(&str, &str)]) -> ListQuery {
        let map = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ListQuery::parse(&map).unwrap()
    }

    #[test]
    fn pages_filter_and_select_columns() {
        let items: Vec<String> = (0..25).map(|i| format!("q{i:02}")).collect();
        let q = query(&[("page", "3"), ("page_size", "10"), ("columns", "name")]);
        let v = q
            .respond(
                items,
                |s| ("/", s.as_str()),
                |s| serde_json::json!({"name": s, "x": 1}),
            )
            .unwrap();
        assert_eq!(v["page_count"], 3);
        assert_eq!(v["item_count"], 5);
        assert_eq!(v["items"][0], serde_json::json!({"name": "q20"}));
        let filtered = query(&[("name", "^q1"), ("use_regex", "true"), ("page", "1")]);
        let items: Vec<String> = (0..25).map(|i| format!("q{i:02}")).collect();
        let v = filtered
            .respond(
                items,
                |s| ("/", s.as_str()),
                |s| serde_json::json!({"name": s}),
            )
            .unwrap();
        assert_eq!(
            (v["filtered_count"].as_u64(), v["total_count"].as_u64()),
            (Some(10), Some(25))
        );
    }
}
