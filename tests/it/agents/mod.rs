//! What AI agents rely on: MCP clients (exact RFC error codes, `iss`,
//! `offline_access`, RFC 8707 resources), Client ID Metadata Documents, and
//! `private_key_jwt` client authentication.

mod cimd;
mod mcp;
mod private_key_jwt;
