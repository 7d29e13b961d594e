//! What AI agents rely on: MCP clients (exact RFC error codes, `iss`,
//! `offline_access`, RFC 8707 resources) and Client ID Metadata Documents.

mod cimd;
mod mcp;
