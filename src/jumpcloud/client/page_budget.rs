//! How many large pages the process holds at once. A page of 10,000 System Insights rows or
//! Directory Insights events takes megabytes, and a collection lists every table at once (the
//! operator several orgs at once): without a bound, a collection's memory would grow with the
//! number of tables, orgs and devices. Small pages (100 records) are not counted.

use tokio::sync::{Semaphore, SemaphorePermit};

use super::super::paging::MAX_PAGE;

/// Large pages in memory at once, in the whole process: fetched or being written.
pub const LARGE_PAGES_IN_MEMORY: usize = 2;

static LARGE_PAGES: Semaphore = Semaphore::const_new(LARGE_PAGES_IN_MEMORY);

/// A page's place in memory, held from before its request until the page is dropped (written).
/// Waiters are served first come, first served, so the pages of one listing get their places
/// in order and the earliest page held can always be written: no listing waits on itself.
#[derive(Debug)]
pub struct PageBudget {
    /// Held for its drop, which frees the place.
    _place: Option<SemaphorePermit<'static>>,
}

impl PageBudget {
    /// Waits for a place when a page of `limit` records is large; small pages go at once.
    pub async fn for_limit(limit: u64) -> PageBudget {
        if limit <= MAX_PAGE {
            return PageBudget { _place: None };
        }
        // The semaphore is static and never closed, so acquiring cannot fail.
        PageBudget {
            _place: LARGE_PAGES.acquire().await.ok(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn large_pages_wait_for_a_place_and_free_it_when_dropped() {
        let small = PageBudget::for_limit(MAX_PAGE).await;
        assert!(small._place.is_none());
        let mut held = Vec::new();
        for _ in 0..LARGE_PAGES_IN_MEMORY {
            held.push(PageBudget::for_limit(10_000).await);
        }
        assert!(held.iter().all(|budget| budget._place.is_some()));
        let mut waiting = Box::pin(PageBudget::for_limit(10_000));
        assert!(
            futures::poll!(waiting.as_mut()).is_pending(),
            "a third large page waits"
        );
        held.pop();
        assert!(waiting.await._place.is_some());
    }
}
