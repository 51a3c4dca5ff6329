//! Who may see what. The rule lives here once; stores translate it into SQL filters.

use crate::{Role, Ticket};
use serde::Serialize;

/// The person asking, with what their role and groups allow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Viewer {
    pub agent_id: i64,
    pub role: Role,
    pub group_ids: Vec<i64>,
}

impl Viewer {
    /// Admins and supervisors see every ticket.
    pub fn sees_all(&self) -> bool {
        matches!(self.role, Role::Admin | Role::Supervisor)
    }
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
    /// An agent sees tickets of their groups and tickets assigned to them.
    pub fn can_see(&self, t: &Ticket) -> bool {
        self.sees_all()
            || t.assignee_id == Some(self.agent_id)
            || t.group_id.is_some_and(|g| self.group_ids.contains(&g))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Change, Channel, Priority, Status};

    #[test]
    fn agents_see_their_groups_and_their_assignments_only() {
        let mut t = Change::Created {
            subject: "x".into(),
            status: Status::Open,
            priority: Priority::Normal,
            channel: Channel::Web,
            requester_id: 1,
            organization_id: None,
            assignee_id: None,
            group_id: Some(2),
            brand_id: None,
            tags: vec![],
            fields: Default::default(),
        }
        .initial(1, 1, chrono::Utc::now())
        .unwrap();
        let agent = Viewer {
            agent_id: 5,
            role: Role::Agent,
            group_ids: vec![1],
        };
        assert!(!agent.can_see(&t));
        t.assignee_id = Some(5);
        assert!(agent.can_see(&t));
        t.assignee_id = None;
        t.group_id = None;
        assert!(!agent.can_see(&t));
        assert!(Viewer {
            agent_id: 9,
            role: Role::Supervisor,
            group_ids: vec![]
        }
        .can_see(&t));
        assert!(Viewer {
            agent_id: 5,
            role: Role::Agent,
            group_ids: vec![2]
        }
        .can_see(&Ticket {
            group_id: Some(2),
            ..t
        }));
    }
}
