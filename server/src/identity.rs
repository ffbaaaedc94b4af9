//! Who this server answers as: the region and account id its ARNs and messages
//! name. Only the server knows them; the engine and the service crates below it
//! identify streams and consumers by name.

/// The region and account this server's resources live in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The region, e.g. `us-east-1`. Default `us-east-1`.
    pub region: String,
    /// The account id, twelve digits. Default `000000000000`.
    pub account_id: String,
}

impl Default for Identity {
    fn default() -> Self {
        Identity {
            region: "us-east-1".into(),
            account_id: "000000000000".into(),
        }
    }
}

impl Identity {
    /// The borrowed view Kinesis's errors and ARNs are built from.
    pub fn account(&self) -> crate::kinesis::errors::Account<'_> {
        crate::kinesis::errors::Account {
            id: &self.account_id,
            region: &self.region,
        }
    }
}
