//! The canned documents, generated once at startup and kept encoded.
//!
//! Users look like an application's: a UUID `_id` (binary subtype 4), name, email, age
//! (int32), balance (Decimal128), active flag, two UTC datetimes, three tags, a nested address
//! and a version. Values come from a small deterministic generator, so every run serves the
//! same bytes.

use crate::bsonw::{decimal128, kind, BsonBuf, UUID_SUBTYPE};
use crate::generator::Generator;
use crate::items::Items;
use crate::library::Library;

const FIRST_NAMES: [&str; 16] = [
    "Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Margaret", "Ken", "Frances", "Dennis",
    "Radia", "Niklaus", "Sophie", "Tony", "Hedy", "John",
];
const LAST_NAMES: [&str; 16] = [
    "Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Hamilton", "Thompson", "Allen",
    "Ritchie", "Perlman", "Wirth", "Wilson", "Hoare", "Lamarr", "Backus",
];
const TAGS: [&str; 12] = [
    "premium",
    "beta",
    "newsletter",
    "mobile",
    "web",
    "trial",
    "enterprise",
    "support",
    "partner",
    "early-adopter",
    "eu",
    "us",
];
/// How many distinct cities the addresses (and the `$group` results) use.
pub const CITIES: usize = 1000;
/// 2024-01-01T00:00:00Z in milliseconds.
const BASE_MILLIS: i64 = 1_704_067_200_000;

/// The encoded documents every find and aggregate answers from.
pub struct Canned {
    /// One encoded user document each, `_id` first.
    pub users: Vec<Vec<u8>>,
    /// The first user's elements after `_id` (without the terminating zero): a reply to a
    /// query on `_id` is this user under the queried `_id`.
    pub first_user_rest: Vec<u8>,
    /// One encoded `$group` result per city.
    pub groups: Vec<Vec<u8>>,
    /// Authors and the books that link to them.
    pub library: Library,
    /// The items a migration rewrites.
    pub items: Items,
}

impl Canned {
    /// `count` users, a library of `books` books by `authors` authors, and `items` items.
    pub fn generate(count: usize, books: usize, authors: usize, items: usize) -> Canned {
        let mut generator = Generator(0x5EED);
        let users: Vec<Vec<u8>> = (0..count.max(1)).map(|i| user(&mut generator, i)).collect();
        let id_element_end = 4 + 1 + "_id".len() + 1 + 4 + 1 + 16;
        let first_user_rest = users[0][id_element_end..users[0].len() - 1].to_vec();
        let groups = (0..CITIES).map(|i| group(&mut generator, i)).collect();
        let library = Library::generate(&mut generator, books, authors);
        let items = Items::generate(&mut generator, items);
        Canned {
            users,
            first_user_rest,
            groups,
            library,
            items,
        }
    }
}

fn user(generator: &mut Generator, index: usize) -> Vec<u8> {
    let first = FIRST_NAMES[generator.below(16) as usize];
    let last = LAST_NAMES[generator.below(16) as usize];
    let created = BASE_MILLIS + i64::try_from(index).unwrap_or(0) * 60_000;
    let mut buf = Vec::with_capacity(360);
    let start = buf.doc_start();
    buf.put_binary("_id", UUID_SUBTYPE, &generator.uuid_v4());
    buf.put_str("name", &format!("{first} {last}"));
    let email = format!(
        "{}.{}{index}@example.com",
        first.to_lowercase(),
        last.to_lowercase()
    );
    buf.put_str("email", &email);
    buf.put_i32("age", 18 + generator.below(63) as i32);
    let cents = i64::try_from(generator.below(10_000_000)).unwrap_or(0);
    buf.put_decimal128("balance", decimal128(cents, -2));
    buf.put_bool("active", generator.below(10) < 8);
    buf.put_datetime("created_at", created);
    let updated = created + i64::try_from(generator.below(86_400_000)).unwrap_or(0);
    buf.put_datetime("updated_at", updated);
    let tags = buf.sub_start(kind::ARRAY, "tags");
    for position in 0..3 {
        buf.put_str(&position.to_string(), TAGS[generator.below(12) as usize]);
    }
    buf.doc_end(tags);
    let address = buf.sub_start(kind::DOCUMENT, "address");
    let city = generator.below(CITIES as u64);
    buf.put_str("city", &format!("city-{city}"));
    buf.put_str("zip", &format!("{:05}", generator.below(100_000)));
    buf.doc_end(address);
    buf.put_i32("version", 1 + generator.below(5) as i32);
    buf.doc_end(start);
    buf
}

fn group(generator: &mut Generator, city: usize) -> Vec<u8> {
    let users = 50 + generator.below(150) as i32;
    let mut buf = Vec::with_capacity(96);
    let start = buf.doc_start();
    buf.put_str("_id", &format!("city-{city}"));
    buf.put_i32("users", users);
    buf.put_f64("avg_age", 18.0 + generator.below(6_300) as f64 / 100.0);
    let cents = i64::from(users) * i64::try_from(generator.below(1_000_000)).unwrap_or(0);
    buf.put_decimal128("total_balance", decimal128(cents, -2));
    buf.doc_end(start);
    buf
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_decode_with_every_field() {
        let canned = Canned::generate(3, 0, 1, 0);
        let doc = bson::Document::from_reader(canned.users[2].as_slice()).unwrap();
        let keys: Vec<&str> = doc.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "_id",
                "name",
                "email",
                "age",
                "balance",
                "active",
                "created_at",
                "updated_at",
                "tags",
                "address",
                "version"
            ]
        );
        assert_eq!(doc.get_array("tags").unwrap().len(), 3);
        assert!(doc.get_document("address").unwrap().contains_key("zip"));
    }

    #[test]
    fn first_user_rest_follows_the_id() {
        let canned = Canned::generate(1, 0, 1, 0);
        let user = &canned.users[0];
        assert!(user[..user.len() - 1].ends_with(&canned.first_user_rest));
        assert_eq!(canned.first_user_rest[0], kind::STRING);
    }
}
