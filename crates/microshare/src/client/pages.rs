//! The paged `GET /share/{recType}` ([`Client::pages`] and what it yields) and the query by
//! tags, `GET /share/{recType}/tags/{tag1}/...`.

use std::fmt;

use reqwest::Method;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::{Client, ClientError, Credentials, encode_into};

/// One page of `GET /share/{recType}`.
#[derive(Debug)]
pub struct Page {
    /// `meta.currentPage`.
    pub current_page: u64,
    /// `meta.totalPages`.
    pub total_pages: u64,
    /// The shares as they came, both date encodings verbatim.
    pub objs: Vec<Box<RawValue>>,
}

/// The shares of a recType, page by page: see [`Client::pages`].
pub struct Pages {
    pub(super) client: Client,
    pub(super) rec_type: String,
    pub(super) per_page: u32,
    pub(super) next_page: u64,
    pub(super) done: bool,
}

impl fmt::Debug for Pages {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pages")
            .field("rec_type", &self.rec_type)
            .field("per_page", &self.per_page)
            .field("next_page", &self.next_page)
            .field("done", &self.done)
            .finish()
    }
}

impl Pages {
    /// The next page, or `None` after the last one. After a [`ClientError::Status`],
    /// [`ClientError::Transport`] or [`ClientError::Unanswered`] error, calling `next` again
    /// asks for the same page; after any other error the listing is over.
    pub async fn next(&mut self) -> Option<Result<Page, ClientError>> {
        if self.done {
            return None;
        }
        let result = self
            .client
            .page(&self.rec_type, self.next_page, self.per_page)
            .await;
        match result {
            Ok(page) if page.objs.is_empty() => {
                self.done = true;
                None
            }
            Ok(page) => {
                self.done = page.current_page >= page.total_pages;
                self.next_page += 1;
                Some(Ok(page))
            }
            Err(e) => {
                self.done = !matches!(
                    e,
                    ClientError::Status { .. }
                        | ClientError::Transport(_)
                        | ClientError::Unanswered { .. }
                );
                Some(Err(e))
            }
        }
    }
}

impl Client {
    /// One page of `rec_type`.
    async fn page(&self, rec_type: &str, page: u64, per_page: u32) -> Result<Page, ClientError> {
        let url = self.share_url(rec_type)?;
        self.get_page(url, page, per_page).await
    }

    /// One page of the shares of `rec_type` carrying all of `tags` (`GET
    /// {api}/share/{recType}/tags/{t1}/{t2}...?details=true&page=N&perPage=M`, each tag
    /// URL-encoded), pages counted from 1. Needs password credentials.
    pub async fn tagged_page(
        &self,
        rec_type: &str,
        tags: &[String],
        page: u64,
        per_page: u32,
    ) -> Result<Page, ClientError> {
        let mut url = self.share_url(rec_type)?;
        url.push_str("/tags");
        for tag in tags {
            if matches!(tag.as_str(), "" | "." | "..") {
                return Err(ClientError::Config(format!(
                    "tag {tag:?} cannot be a path segment"
                )));
            }
            url.push('/');
            encode_into(tag, &mut url);
        }
        if tags.is_empty() {
            return Err(ClientError::Config("a query by tags needs a tag".into()));
        }
        self.get_page(url, page, per_page).await
    }

    /// `GET url?details=true&page=N&perPage=M`, decoded.
    async fn get_page(
        &self,
        mut url: String,
        page: u64,
        per_page: u32,
    ) -> Result<Page, ClientError> {
        if let Credentials::Pipe(_) = self.inner.credentials {
            return Err(ClientError::Config(
                "a pipe token can only post: reading shares needs password credentials".into(),
            ));
        }
        url.push_str(&format!("?details=true&page={page}&perPage={per_page}"));
        let answer = self.call(Method::GET, &url, None).await?;
        let bytes = answer
            .bytes()
            .await
            .map_err(|e| self.transport(&format!("GET {url}"), e, None))?;
        let page: PageAnswer = serde_json::from_slice(&bytes).map_err(|e| {
            ClientError::Transport(format!("GET {url}: could not decode the page: {e}"))
        })?;
        Ok(Page {
            current_page: page.meta.current_page,
            total_pages: page.meta.total_pages,
            objs: page.objs,
        })
    }
}

#[derive(Deserialize)]
struct PageAnswer {
    #[serde(default)]
    meta: PageMeta,
    #[serde(default)]
    objs: Vec<Box<RawValue>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct PageMeta {
    #[serde(default)]
    current_page: u64,
    #[serde(default)]
    total_pages: u64,
}
