//! Who uses the till: PINs, roles and what each role may do, and customers'
//! phone numbers.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::DomainError;

/// A till PIN: 4 to 8 digits. It never appears in `Debug` output, is never
/// serialized, and is only ever stored as an argon2 hash.
#[derive(Clone, PartialEq, Eq)]
pub struct Pin(String);

impl Pin {
    pub fn parse(text: &str) -> Result<Pin, DomainError> {
        let t = text.trim();
        if (4..=8).contains(&t.len()) && t.chars().all(|c| c.is_ascii_digit()) {
            Ok(Pin(t.to_string()))
        } else {
            Err(DomainError::BadPin)
        }
    }

    /// The digits, for hashing and verification only.
    pub fn expose(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Debug for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pin(****)")
    }
}

/// A till user's role. Each role can do everything the one before it can.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Cashier,
    Manager,
    Owner,
}

/// Something a user may be allowed to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    /// Ring up sales, take payments, look up products.
    Sell,
    /// Record petty-cash expenses.
    RecordExpense,
    /// Create credit customers and record their payments.
    ServeCustomers,
    /// Void or refund a sale.
    VoidOrRefund,
    /// Create, edit and delete products and categories; restock; stocktake.
    ManageCatalog,
    /// Edit or delete expenses; set customers' credit limits.
    ManageMoney,
    /// See reports.
    ViewReports,
    /// Run Full Cloud Synchronization; retry or discard quarantined ops.
    ManageSync,
    /// Business settings, tax rates, Back Office connection.
    ManageSettings,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Cashier => "cashier",
            Role::Manager => "manager",
            Role::Owner => "owner",
        }
    }

    pub fn parse(s: &str) -> Result<Role, DomainError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "cashier" => Ok(Role::Cashier),
            "manager" => Ok(Role::Manager),
            "owner" => Ok(Role::Owner),
            _ => Err(DomainError::UnknownRole(s.to_string())),
        }
    }

    /// The least role that holds `p`.
    fn least_for(p: Permission) -> Role {
        use Permission::*;
        match p {
            Sell | RecordExpense | ServeCustomers => Role::Cashier,
            VoidOrRefund | ManageCatalog | ManageMoney | ViewReports | ManageSync => Role::Manager,
            ManageSettings => Role::Owner,
        }
    }

    pub fn can(self, p: Permission) -> bool {
        self >= Self::least_for(p)
    }

    /// Whether a user with this role may create, edit or remove a user with
    /// role `other`: owners manage everyone; managers manage cashiers.
    pub fn can_manage(self, other: Role) -> bool {
        match self {
            Role::Owner => true,
            Role::Manager => other == Role::Cashier,
            Role::Cashier => false,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A phone number in E.164 form (`+254712345678`). Kenyan local forms
/// (`0712 345 678`, `712345678`, `254712345678`) are normalized, so the same
/// customer entered two ways at two branches has one number.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PhoneNumber(String);

impl PhoneNumber {
    pub fn parse(text: &str) -> Result<PhoneNumber, DomainError> {
        let bad = || DomainError::BadPhone(text.to_string());
        let t = text.trim();
        let plus = t.starts_with('+');
        let body = if plus { &t[1..] } else { t };
        if !body
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '-' | '(' | ')'))
        {
            return Err(bad());
        }
        let digits: String = body.chars().filter(char::is_ascii_digit).collect();
        let e164 = if plus {
            digits
        } else if digits.len() == 10 && digits.starts_with('0') {
            format!("254{}", &digits[1..])
        } else if digits.len() == 9 && (digits.starts_with('7') || digits.starts_with('1')) {
            format!("254{digits}")
        } else if digits.len() == 12 && digits.starts_with("254") {
            digits
        } else {
            return Err(bad());
        };
        if !(8..=15).contains(&e164.len()) || e164.starts_with('0') {
            return Err(bad());
        }
        if e164.starts_with("254") && e164.len() != 12 {
            return Err(bad());
        }
        Ok(PhoneNumber(format!("+{e164}")))
    }
}

impl std::str::FromStr for Role {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::parse(s)
    }
}

validated_text!(PhoneNumber);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins() {
        assert!(Pin::parse("1234").is_ok());
        assert!(Pin::parse("12345678").is_ok());
        for bad in ["123", "123456789", "12a4", "", "    "] {
            assert_eq!(Pin::parse(bad), Err(DomainError::BadPin), "{bad}");
        }
        assert_eq!(format!("{:?}", Pin::parse("1234").unwrap()), "Pin(****)");
    }

    #[test]
    fn roles() {
        assert!(Role::Cashier.can(Permission::Sell));
        assert!(!Role::Cashier.can(Permission::VoidOrRefund));
        assert!(Role::Manager.can(Permission::VoidOrRefund));
        assert!(!Role::Manager.can(Permission::ManageSettings));
        assert!(Role::Owner.can(Permission::ManageSettings));
        assert!(Role::Manager.can_manage(Role::Cashier));
        assert!(!Role::Manager.can_manage(Role::Manager));
        assert!(Role::parse("admin").is_err());
    }

    #[test]
    fn kenyan_numbers_normalize() {
        for input in [
            "0712345678",
            "0712 345 678",
            "712345678",
            "254712345678",
            "+254 712-345-678",
        ] {
            assert_eq!(
                PhoneNumber::parse(input).unwrap().as_str(),
                "+254712345678",
                "{input}"
            );
        }
        assert_eq!(
            PhoneNumber::parse("0110123456").unwrap().as_str(),
            "+254110123456"
        );
        assert_eq!(
            PhoneNumber::parse("+256 772 123456").unwrap().as_str(),
            "+256772123456"
        );
        for bad in [
            "",
            "12345",
            "07123456789",
            "+2547123",
            "phone",
            "07l2345678",
        ] {
            assert!(PhoneNumber::parse(bad).is_err(), "{bad}");
        }
    }
}
