//! The Nexmark generator (Person / Auction / Bid), after the reference generator described in
//! `../shared/nexmark/nexmark_schema.md`: event `n` is a Person, an Auction or a Bid by `n % 50`
//! (1 / 3 / 46), ids are sequential from 1000, hot auctions / sellers / bidders are chosen with the
//! reference ratios, prices are log-uniform, `extra` pads each kind to its average size, and event
//! time advances at `event_rate` per second from `base_time_ms`. Each event draws from its own
//! SplitMix64 sequence seeded by (seed, n): a run is deterministic for a seed and any event can be
//! generated alone (so generation splits across threads). Values are JSON objects with the
//! snake_case field names of the RisingWave form (`date_time` in epoch milliseconds).

use serde::Serialize;

use super::random::Random;

const PERSON_PROPORTION: u64 = 1;
const AUCTION_PROPORTION: u64 = 3;
const TOTAL_PROPORTION: u64 = 50;
const FIRST_PERSON_ID: i64 = 1000;
const FIRST_AUCTION_ID: i64 = 1000;
const FIRST_CATEGORY_ID: i64 = 10;
const NUM_CATEGORIES: u64 = 5;
const HOT_AUCTION_RATIO: u64 = 2;
const HOT_SELLER_RATIO: u64 = 4;
const HOT_BIDDER_RATIO: u64 = 4;
/// Hot auctions / people are the first of the latest block of this many.
const HOT_BLOCK: i64 = 100;
const NUM_IN_FLIGHT_AUCTIONS: i64 = 100;
const NUM_ACTIVE_PEOPLE: i64 = 1000;
const AUCTION_ID_LEAD: u64 = 10;
const PERSON_ID_LEAD: u64 = 10;
const HOT_CHANNELS: [&str; 4] = ["Google", "Facebook", "Baidu", "Apple"];
const FIRST_NAMES: [&str; 11] =
    ["Peter", "Paul", "Luke", "John", "Saul", "Vicky", "Kate", "Julie", "Sarah", "Deiter", "Walter"];
const LAST_NAMES: [&str; 9] = ["Shultz", "Abrams", "Spencer", "White", "Bartels", "Walton", "Smith", "Jones", "Noris"];
const CITIES: [&str; 10] =
    ["Phoenix", "Los Angeles", "San Francisco", "Boise", "Portland", "Bend", "Redmond", "Seattle", "Kent", "Cheyenne"];
const STATES: [&str; 6] = ["AZ", "CA", "ID", "OR", "WA", "WY"];

/// How the generator runs.
#[derive(Debug, Clone, PartialEq)]
pub struct NexmarkConfig {
    pub seed: u64,
    /// Events per second of event time (the reference default is 10,000).
    pub event_rate: u64,
    /// Event time of event 0.
    pub base_time_ms: i64,
    pub avg_person_bytes: usize,
    pub avg_auction_bytes: usize,
    pub avg_bid_bytes: usize,
}

impl Default for NexmarkConfig {
    fn default() -> Self {
        Self {
            seed: 0,
            event_rate: 10_000,
            base_time_ms: 1_700_000_000_000,
            avg_person_bytes: 200,
            avg_auction_bytes: 500,
            avg_bid_bytes: 100,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Person {
    pub id: i64,
    pub name: String,
    pub email_address: String,
    pub credit_card: String,
    pub city: String,
    pub state: String,
    pub date_time: i64,
    pub extra: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Auction {
    pub id: i64,
    pub item_name: String,
    pub description: String,
    pub initial_bid: i64,
    pub reserve: i64,
    pub date_time: i64,
    pub expires: i64,
    pub seller: i64,
    pub category: i64,
    pub extra: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bid {
    pub auction: i64,
    pub bidder: i64,
    pub price: i64,
    pub channel: String,
    pub url: String,
    pub date_time: i64,
    pub extra: String,
}

/// One generated event.
#[derive(Debug, Clone, PartialEq)]
pub enum NexmarkEvent {
    Person(Person),
    Auction(Auction),
    Bid(Bid),
}

impl NexmarkEvent {
    /// The event's JSON value.
    pub fn to_json(&self) -> Vec<u8> {
        let out = match self {
            Self::Person(p) => serde_json::to_vec(p),
            Self::Auction(a) => serde_json::to_vec(a),
            Self::Bid(b) => serde_json::to_vec(b),
        };
        out.unwrap_or_default()
    }

    /// The event as a JSON object.
    pub fn to_value(&self) -> serde_json::Value {
        let out = match self {
            Self::Person(p) => serde_json::to_value(p),
            Self::Auction(a) => serde_json::to_value(a),
            Self::Bid(b) => serde_json::to_value(b),
        };
        out.unwrap_or_default()
    }

    /// The event time.
    pub fn date_time(&self) -> i64 {
        match self {
            Self::Person(p) => p.date_time,
            Self::Auction(a) => a.date_time,
            Self::Bid(b) => b.date_time,
        }
    }
}

/// Generates events by number.
#[derive(Debug, Clone)]
pub struct NexmarkGenerator {
    config: NexmarkConfig,
}

fn last_base0_person_id(n: u64) -> i64 {
    let (epoch, offset) = (n / TOTAL_PROPORTION, n % TOTAL_PROPORTION);
    // With one person per 50 events the offset is always 0; kept general like the reference.
    let offset = if offset >= PERSON_PROPORTION { PERSON_PROPORTION - 1 } else { offset };
    (epoch * PERSON_PROPORTION + offset) as i64
}

fn last_base0_auction_id(n: u64) -> i64 {
    let (epoch, offset) = (n / TOTAL_PROPORTION, n % TOTAL_PROPORTION);
    let (epoch, offset) = if offset < PERSON_PROPORTION {
        (epoch as i64 - 1, AUCTION_PROPORTION - 1)
    } else if offset >= PERSON_PROPORTION + AUCTION_PROPORTION {
        (epoch as i64, AUCTION_PROPORTION - 1)
    } else {
        (epoch as i64, offset - PERSON_PROPORTION)
    };
    (epoch * AUCTION_PROPORTION as i64 + offset as i64).max(0)
}

fn next_base0_person_id(n: u64, r: &mut Random) -> i64 {
    let people = last_base0_person_id(n) + 1;
    let active = people.min(NUM_ACTIVE_PEOPLE);
    people - active + r.below(active as u64 + PERSON_ID_LEAD) as i64
}

fn next_base0_auction_id(n: u64, r: &mut Random) -> i64 {
    let max = last_base0_auction_id(n);
    let min = (max - NUM_IN_FLIGHT_AUCTIONS).max(0);
    min + r.below((max - min) as u64 + 1 + AUCTION_ID_LEAD) as i64
}

/// Log-uniform from 100 to 100,000,000 (cents).
fn next_price(r: &mut Random) -> i64 {
    (10f64.powf(r.unit() * 6.0) * 100.0).round() as i64
}

/// Lowercase letters and spaces, `len` long.
fn next_string(r: &mut Random, len: usize) -> String {
    (0..len)
        .map(|_| {
            let c = r.below(27) as u8;
            if c == 26 {
                ' '
            } else {
                (b'a' + c) as char
            }
        })
        .collect()
}

/// Padding that brings an event of `current` bytes to about `average` (±20 %).
fn next_extra(r: &mut Random, current: usize, average: usize) -> String {
    if current >= average {
        return String::new();
    }
    let desired = average - current;
    let delta = (desired as f64 * 0.2).round() as u64;
    let size = desired as u64 - delta + r.below(2 * delta + 1);
    next_string(r, size as usize)
}

impl NexmarkGenerator {
    pub fn new(config: NexmarkConfig) -> Self {
        Self { config }
    }

    /// The event time of event `n`.
    fn date_time(&self, n: u64) -> i64 {
        let rate = self.config.event_rate.max(1);
        self.config.base_time_ms + (n as u128 * 1000 / rate as u128) as i64
    }

    /// Whether event `n` is a bid (92 % are).
    pub fn is_bid(n: u64) -> bool {
        n % TOTAL_PROPORTION >= PERSON_PROPORTION + AUCTION_PROPORTION
    }

    /// Event number `n`.
    pub fn event(&self, n: u64) -> NexmarkEvent {
        let mut r = Random::for_event(self.config.seed, n);
        let offset = n % TOTAL_PROPORTION;
        if offset < PERSON_PROPORTION {
            NexmarkEvent::Person(self.person(n, &mut r))
        } else if offset < PERSON_PROPORTION + AUCTION_PROPORTION {
            NexmarkEvent::Auction(self.auction(n, &mut r))
        } else {
            NexmarkEvent::Bid(self.bid(n, &mut r))
        }
    }

    fn person(&self, n: u64, r: &mut Random) -> Person {
        let id = last_base0_person_id(n) + FIRST_PERSON_ID;
        let name = format!(
            "{} {}",
            FIRST_NAMES[r.below(FIRST_NAMES.len() as u64) as usize],
            LAST_NAMES[r.below(LAST_NAMES.len() as u64) as usize]
        );
        let (local, domain) = (3 + r.below(5) as usize, 3 + r.below(3) as usize);
        let email_address = format!("{}@{}.com", next_string(r, local), next_string(r, domain));
        let credit_card = (0..4).map(|_| format!("{:04}", r.below(10_000))).collect::<Vec<_>>().join(" ");
        let city = CITIES[r.below(CITIES.len() as u64) as usize].to_string();
        let state = STATES[r.below(STATES.len() as u64) as usize].to_string();
        let current = 8 + name.len() + email_address.len() + credit_card.len() + city.len() + state.len() + 8;
        let extra = next_extra(r, current, self.config.avg_person_bytes);
        Person { id, name, email_address, credit_card, city, state, date_time: self.date_time(n), extra }
    }

    fn auction(&self, n: u64, r: &mut Random) -> Auction {
        let id = last_base0_auction_id(n) + FIRST_AUCTION_ID;
        let seller = if r.below(HOT_SELLER_RATIO) > 0 {
            (last_base0_person_id(n) / HOT_BLOCK) * HOT_BLOCK
        } else {
            next_base0_person_id(n, r)
        } + FIRST_PERSON_ID;
        let category = FIRST_CATEGORY_ID + r.below(NUM_CATEGORIES) as i64;
        let initial_bid = next_price(r);
        let reserve = initial_bid + next_price(r);
        let date_time = self.date_time(n);
        // Open until about as many auctions as are in flight have been created after it.
        let horizon_ms = (NUM_IN_FLIGHT_AUCTIONS as u64 * TOTAL_PROPORTION / AUCTION_PROPORTION) * 1000
            / self.config.event_rate.max(1);
        let expires = date_time + 1 + r.below(2 * horizon_ms.max(1)) as i64;
        let (item_len, description_len) = (1 + r.below(20) as usize, 1 + r.below(100) as usize);
        let item_name = next_string(r, item_len);
        let description = next_string(r, description_len);
        let current = 8 + item_name.len() + description.len() + 8 + 8 + 8 + 8 + 8 + 8;
        let extra = next_extra(r, current, self.config.avg_auction_bytes);
        Auction { id, item_name, description, initial_bid, reserve, date_time, expires, seller, category, extra }
    }

    fn bid(&self, n: u64, r: &mut Random) -> Bid {
        let auction = if r.below(HOT_AUCTION_RATIO) > 0 {
            (last_base0_auction_id(n) / HOT_BLOCK) * HOT_BLOCK
        } else {
            next_base0_auction_id(n, r)
        } + FIRST_AUCTION_ID;
        let bidder = if r.below(HOT_BIDDER_RATIO) > 0 {
            (last_base0_person_id(n) / HOT_BLOCK) * HOT_BLOCK + 1
        } else {
            next_base0_person_id(n, r)
        } + FIRST_PERSON_ID;
        let price = next_price(r);
        let (channel, url) = if r.below(2) > 0 {
            let i = r.below(HOT_CHANNELS.len() as u64) as usize;
            (
                HOT_CHANNELS[i].to_string(),
                format!("https://www.nexmark.com/{}/item.htm?query=1", HOT_CHANNELS[i].to_lowercase()),
            )
        } else {
            let id = r.below(10_000);
            let mut url = format!(
                "https://www.nexmark.com/{}/{}/{}/item.htm?query=1",
                next_string(r, 5),
                next_string(r, 5),
                next_string(r, 5)
            );
            if r.below(10) > 0 {
                url.push_str(&format!("&channel_id={}", r.below(i32::MAX as u64)));
            }
            (format!("channel-{id}"), url)
        };
        let current = 8 + 8 + 8 + channel.len() + url.len() + 8;
        let extra = next_extra(r, current, self.config.avg_bid_bytes);
        Bid { auction, bidder, price, channel, url, date_time: self.date_time(n), extra }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mix_ids_and_times_follow_the_reference() {
        let g = NexmarkGenerator::new(NexmarkConfig::default());
        let kinds: Vec<char> = (0..50)
            .map(|n| match g.event(n) {
                NexmarkEvent::Person(_) => 'P',
                NexmarkEvent::Auction(_) => 'A',
                NexmarkEvent::Bid(_) => 'B',
            })
            .collect();
        assert_eq!(kinds.iter().filter(|k| **k == 'P').count(), 1);
        assert_eq!(kinds.iter().filter(|k| **k == 'A').count(), 3);
        assert_eq!(kinds[..4], ['P', 'A', 'A', 'A']);
        let NexmarkEvent::Person(p) = g.event(50) else { panic!("event 50 is a person") };
        assert_eq!(p.id, 1001);
        let NexmarkEvent::Auction(a) = g.event(53) else { panic!("event 53 is an auction") };
        assert_eq!(a.id, 1005);
        // 10,000 events per second of event time.
        assert_eq!(g.event(20_000).date_time() - g.event(0).date_time(), 2000);
    }

    #[test]
    fn runs_are_deterministic_for_a_seed_and_bids_have_about_their_average_size() {
        let a = NexmarkGenerator::new(NexmarkConfig::default());
        let b = NexmarkGenerator::new(NexmarkConfig::default());
        let c = NexmarkGenerator::new(NexmarkConfig { seed: 7, ..NexmarkConfig::default() });
        assert_eq!(a.event(1234), b.event(1234));
        assert_ne!(a.event(1234), c.event(1234));
        let bids: Vec<Bid> = (0..5000)
            .filter_map(|n| match a.event(n) {
                NexmarkEvent::Bid(b) => Some(b),
                _ => None,
            })
            .collect();
        let hot = bids.iter().filter(|b| HOT_CHANNELS.contains(&b.channel.as_str())).count();
        assert!((hot as f64 / bids.len() as f64 - 0.5).abs() < 0.05, "half the bids come from hot channels");
        assert!(bids.iter().all(|b| (100..=100_000_000).contains(&b.price)));
        let avg = bids.iter().map(|b| NexmarkEvent::Bid(b.clone()).to_json().len()).sum::<usize>() / bids.len();
        assert!((120..260).contains(&avg), "average bid JSON is {avg} bytes");
    }
}
