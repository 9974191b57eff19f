//! The bound on the memory that request bodies in flight may hold together
//! (`server.max_inflight_body_bytes`): a semaphore of bytes. A body reserves its declared length
//! before its first byte is read (or, without a `Content-Length`, each chunk as it arrives) and
//! keeps the reservation until its request is answered. When the budget is spent the request
//! is refused at once with 503 and `Retry-After` rather than queued: a waiting request would
//! hold its connection and socket buffers, which is the memory this bound exists to protect.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::ApiError;

/// The budget of bytes shared by every body being read or handled.
#[derive(Debug, Clone)]
pub struct BodyBudget {
    semaphore: Arc<Semaphore>,
    total: usize,
    /// False for the throw-away budgets of bodies already in memory: they do not report.
    metered: bool,
}

/// Bytes reserved from a [`BodyBudget`]; given back when dropped.
#[derive(Debug)]
pub struct BodyPermit {
    permit: Option<OwnedSemaphorePermit>,
    budget: BodyBudget,
}

impl BodyBudget {
    /// A budget of `total` bytes (at least 1, at most what a semaphore can count).
    pub fn new(total: usize) -> Self {
        let total = total.clamp(1, Semaphore::MAX_PERMITS);
        Self {
            semaphore: Arc::new(Semaphore::new(total)),
            total,
            metered: true,
        }
    }

    /// A budget that reports nothing: for re-reading a body that is already counted.
    pub(crate) fn unmetered(total: usize) -> Self {
        Self {
            metered: false,
            ..Self::new(total)
        }
    }

    /// The whole budget: no single body can be larger.
    pub fn total(&self) -> usize {
        self.total
    }

    /// Bytes reserved right now.
    pub fn in_use(&self) -> usize {
        self.total - self.semaphore.available_permits()
    }

    /// A reservation of nothing, to grow with [`BodyPermit::grow`].
    pub fn empty(&self) -> BodyPermit {
        BodyPermit {
            permit: None,
            budget: self.clone(),
        }
    }

    fn record(&self) {
        if !self.metered {
            return;
        }
        metrics::gauge!("notify_http_inflight_body_bytes").set(self.in_use() as f64);
    }
}

impl BodyPermit {
    /// Bytes held.
    pub fn held(&self) -> usize {
        self.permit.as_ref().map_or(0, |p| p.num_permits())
    }

    /// Reserves `n` more bytes, or refuses with [`ApiError::Busy`] when the budget has not
    /// that much left.
    pub fn grow(&mut self, n: usize) -> Result<(), ApiError> {
        if n == 0 {
            return Ok(());
        }
        let n32 = u32::try_from(n).map_err(|_| ApiError::Busy)?;
        let more = self
            .budget
            .semaphore
            .clone()
            .try_acquire_many_owned(n32)
            .map_err(|_| {
                if !self.budget.metered {
                    return ApiError::Busy;
                }
                metrics::counter!("notify_http_body_budget_refusals_total").increment(1);
                tracing::warn!(
                    bytes = n,
                    in_use = self.budget.in_use(),
                    total = self.budget.total,
                    "refused: request bodies in flight are at server.max_inflight_body_bytes"
                );
                ApiError::Busy
            })?;
        match &mut self.permit {
            Some(p) => p.merge(more),
            None => self.permit = Some(more),
        }
        self.budget.record();
        Ok(())
    }
}

impl Drop for BodyPermit {
    fn drop(&mut self) {
        if let Some(permit) = self.permit.take() {
            drop(permit);
            self.budget.record();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_add_up_to_the_total_and_are_given_back() {
        let budget = BodyBudget::new(100);
        let mut a = budget.empty();
        a.grow(60).expect("fits");
        a.grow(30).expect("fits");
        assert_eq!(a.held(), 90);
        let mut b = budget.empty();
        assert!(matches!(b.grow(11), Err(ApiError::Busy)));
        b.grow(10).expect("fits");
        assert_eq!(budget.in_use(), 100);
        drop(a);
        assert_eq!(budget.in_use(), 10);
        b.grow(90).expect("fits after the first is answered");
    }
}
