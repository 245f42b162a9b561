//! The canned library: authors, and books that link to them, for the benchmark of loading
//! links (`fetch_links`).
//!
//! Each book links to one author, stored in one of the two forms ODMs use: the author's `_id`
//! (collection `books`) or a DBRef `{$ref: "authors", $id: <_id>}` (collection `books_dbref`,
//! Beanie's form). `joined` is what a `$lookup` of the books on their authors returns: each
//! book with the author document in place of the link, so a client that joins on the server
//! gets the same result as one that runs a second query.

use std::collections::HashMap;

use crate::bsonw::{kind, BsonBuf, UUID_SUBTYPE};
use crate::generator::Generator;

pub const AUTHORS: &str = "authors";
pub const BOOKS: &str = "books";
pub const BOOKS_DBREF: &str = "books_dbref";

const FIRST_NAMES: [&str; 8] = [
    "Ursula",
    "Italo",
    "Toni",
    "Jorge",
    "Virginia",
    "Gabriel",
    "Chimamanda",
    "Haruki",
];
const LAST_NAMES: [&str; 8] = [
    "Le Guin", "Calvino", "Morrison", "Borges", "Woolf", "Márquez", "Adichie", "Murakami",
];
const COUNTRIES: [&str; 8] = ["US", "IT", "US", "AR", "GB", "CO", "NG", "JP"];
const TITLE_WORDS: [&str; 12] = [
    "Invisible",
    "Cities",
    "Dispossessed",
    "Beloved",
    "Labyrinths",
    "Waves",
    "Solitude",
    "Hibiscus",
    "Kafka",
    "Shore",
    "Lighthouse",
    "Ficciones",
];

/// The encoded library documents, `_id` first in each.
pub struct Library {
    pub authors: Vec<Vec<u8>>,
    /// Where each author's UUID is in `authors`, for `{_id: {$in: [...]}}`.
    pub author_at: HashMap<[u8; 16], usize>,
    /// Books whose `author` holds the author's `_id`.
    pub books: Vec<Vec<u8>>,
    /// The same books with the link as a DBRef.
    pub books_dbref: Vec<Vec<u8>>,
    /// The same books with the author document itself in `author`.
    pub joined: Vec<Vec<u8>>,
}

impl Library {
    pub fn generate(generator: &mut Generator, books: usize, authors: usize) -> Library {
        let authors = authors.max(1);
        let ids: Vec<[u8; 16]> = (0..authors).map(|_| generator.uuid_v4()).collect();
        let author_docs: Vec<Vec<u8>> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| author(generator, i, id))
            .collect();
        let mut library = Library {
            author_at: ids.iter().enumerate().map(|(i, id)| (*id, i)).collect(),
            authors: author_docs,
            books: Vec::with_capacity(books),
            books_dbref: Vec::with_capacity(books),
            joined: Vec::with_capacity(books),
        };
        for index in 0..books {
            let id = generator.uuid_v4();
            let title = format!(
                "{} {} {index}",
                TITLE_WORDS[generator.below(12) as usize],
                TITLE_WORDS[generator.below(12) as usize]
            );
            let year = 1900 + generator.below(125) as i32;
            let by = usize::try_from(generator.below(authors as u64)).unwrap_or(0);
            let book = |link: &dyn Fn(&mut Vec<u8>)| {
                let mut buf = Vec::with_capacity(160);
                let start = buf.doc_start();
                buf.put_binary("_id", UUID_SUBTYPE, &id);
                buf.put_str("title", &title);
                buf.put_i32("year", year);
                link(&mut buf);
                buf.doc_end(start);
                buf
            };
            library.books.push(book(&|buf| {
                buf.put_binary("author", UUID_SUBTYPE, &ids[by])
            }));
            library.books_dbref.push(book(&|buf| {
                let dbref = buf.sub_start(kind::DOCUMENT, "author");
                buf.put_str("$ref", AUTHORS);
                buf.put_binary("$id", UUID_SUBTYPE, &ids[by]);
                buf.doc_end(dbref);
            }));
            library.joined.push(book(&|buf| {
                buf.put_encoded_doc("author", &library.authors[by])
            }));
        }
        library
    }
}

fn author(generator: &mut Generator, index: usize, id: &[u8; 16]) -> Vec<u8> {
    let pick = generator.below(8) as usize;
    let mut buf = Vec::with_capacity(96);
    let start = buf.doc_start();
    buf.put_binary("_id", UUID_SUBTYPE, id);
    let last = LAST_NAMES[generator.below(8) as usize];
    buf.put_str("name", &format!("{} {last} {index}", FIRST_NAMES[pick]));
    buf.put_i32("born", 1850 + generator.below(130) as i32);
    buf.put_str("country", COUNTRIES[pick]);
    buf.doc_end(start);
    buf
}

#[cfg(test)]
mod tests {
    use bson::{Bson, Document};

    use super::*;

    fn decode(bytes: &[u8]) -> Document {
        Document::from_reader(bytes).unwrap()
    }

    #[test]
    fn the_three_forms_of_a_book_link_the_same_author() {
        let library = Library::generate(&mut Generator(1), 50, 5);
        assert_eq!((library.books.len(), library.authors.len()), (50, 5));
        for at in 0..50 {
            let (book, dbref) = (decode(&library.books[at]), decode(&library.books_dbref[at]));
            let joined = decode(&library.joined[at]);
            let Some(Bson::Binary(id)) = book.get("author") else {
                panic!("the link is a UUID")
            };
            let reference = dbref.get_document("author").unwrap();
            assert_eq!(reference.get_str("$ref").unwrap(), AUTHORS);
            assert_eq!(reference.get("$id"), book.get("author"));
            let author = joined.get_document("author").unwrap();
            assert_eq!(author.get("_id"), book.get("author"));
            let position = library.author_at[&<[u8; 16]>::try_from(id.bytes.as_slice()).unwrap()];
            assert_eq!(&decode(&library.authors[position]), author);
            assert_eq!(joined.get_str("title"), book.get_str("title"));
        }
    }
}
