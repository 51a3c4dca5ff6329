//! Opaque keyset cursors for ticket lists: the sort key and id of the last row seen.

use base64::Engine;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TicketSort {
    #[default]
    UpdatedDesc,
    UpdatedAsc,
    CreatedDesc,
    CreatedAsc,
    IdDesc,
    IdAsc,
    /// Next SLA due time first; tickets with no running target last.
    SlaDueAsc,
}

/// Which column a sort orders by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    Updated,
    Created,
    Id,
    SlaDue,
}

impl TicketSort {
    /// `updated_at`, `-updated_at`, `created_at`, `-created_at`, `id`, `-id`.
    pub fn parse(s: &str) -> Option<TicketSort> {
        Some(match s {
            "-updated_at" => TicketSort::UpdatedDesc,
            "updated_at" => TicketSort::UpdatedAsc,
            "-created_at" => TicketSort::CreatedDesc,
            "created_at" => TicketSort::CreatedAsc,
            "-id" => TicketSort::IdDesc,
            "id" => TicketSort::IdAsc,
            "sla_due_at" => TicketSort::SlaDueAsc,
            _ => return None,
        })
    }
    pub const NAMES: &'static str =
        "-updated_at, updated_at, -created_at, created_at, -id, id, sla_due_at";
    pub fn as_str(self) -> &'static str {
        match self {
            TicketSort::UpdatedDesc => "-updated_at",
            TicketSort::UpdatedAsc => "updated_at",
            TicketSort::CreatedDesc => "-created_at",
            TicketSort::CreatedAsc => "created_at",
            TicketSort::IdDesc => "-id",
            TicketSort::IdAsc => "id",
            TicketSort::SlaDueAsc => "sla_due_at",
        }
    }
    pub fn key(self) -> SortKey {
        match self {
            TicketSort::UpdatedDesc | TicketSort::UpdatedAsc => SortKey::Updated,
            TicketSort::CreatedDesc | TicketSort::CreatedAsc => SortKey::Created,
            TicketSort::IdDesc | TicketSort::IdAsc => SortKey::Id,
            TicketSort::SlaDueAsc => SortKey::SlaDue,
        }
    }
    pub fn descending(self) -> bool {
        matches!(
            self,
            TicketSort::UpdatedDesc | TicketSort::CreatedDesc | TicketSort::IdDesc
        )
    }
}

/// Position after the last row of a page: its sort value (microseconds since the epoch, or
/// the id) and its id. Bound to the sort it was made for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    #[serde(rename = "s")]
    pub sort: u8,
    #[serde(rename = "k")]
    pub key: i64,
    #[serde(rename = "i")]
    pub id: i64,
}

impl Cursor {
    pub fn new(sort: TicketSort, key: i64, id: i64) -> Cursor {
        Cursor {
            sort: sort as u8,
            key,
            id,
        }
    }
    pub fn encode(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
    }
    /// Decodes a cursor made for `sort`; `None` if it is garbage or for another sort.
    pub fn decode(s: &str, sort: TicketSort) -> Option<Cursor> {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(s)
            .ok()?;
        let c: Cursor = serde_json::from_slice(&bytes).ok()?;
        (c.sort == sort as u8).then_some(c)
    }
    /// The sort value of a ticket for this sort.
    pub fn of(sort: TicketSort, t: &tend_core::Ticket) -> Cursor {
        let key = match sort.key() {
            SortKey::Updated => t.updated_at.timestamp_micros(),
            SortKey::Created => t.created_at.timestamp_micros(),
            SortKey::Id => t.id,
            SortKey::SlaDue => crate::sla_due_to_us(t.sla_due_at),
        };
        Cursor::new(sort, key, t.id)
    }
}

/// Opaque cursor for id-ordered lists (events, customers, audit).
pub fn encode_id_cursor(id: i64) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("id:{id}"))
}

pub fn decode_id_cursor(s: &str) -> Option<i64> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .ok()?;
    std::str::from_utf8(&bytes)
        .ok()?
        .strip_prefix("id:")?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_garbage() {
        let c = Cursor::new(TicketSort::UpdatedDesc, 1_700_000_000_000_000, 42);
        assert_eq!(
            Cursor::decode(&c.encode(), TicketSort::UpdatedDesc),
            Some(c)
        );
        assert_eq!(Cursor::decode(&c.encode(), TicketSort::IdAsc), None);
        assert_eq!(
            Cursor::decode("not a cursor", TicketSort::UpdatedDesc),
            None
        );
        assert_eq!(decode_id_cursor(&encode_id_cursor(9)), Some(9));
        assert_eq!(decode_id_cursor("!!"), None);
    }
}
