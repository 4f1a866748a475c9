using Docker.DotNet.Models;

namespace SessionMcp.Containers.Docker.Pool;

/// <summary>
/// An idle, started, hardened container with its helper attached, waiting for a session. Its workspace is a fresh
/// empty directory made for it alone (<see cref="WorkspaceDirectory"/>), and its <see cref="ControlDirectory"/> holds
/// the heartbeat its PID 1 watches. Never handed to a second session: a claimed container belongs to its session
/// until that session is destroyed.
/// </summary>
internal sealed record PooledContainer(
    string Id,
    string SlotDirectory,
    PoolShape Shape,
    ImageInspectResponse Image,
    SessionHelper Helper,
    DateTimeOffset CreatedAt)
{
    public string WorkspaceDirectory => Path.Combine(SlotDirectory, "workspace");

    public string ControlDirectory => Path.Combine(SlotDirectory, "control");
}

/// <summary>What the pool holds now, for status lines.</summary>
internal sealed record PoolStatus(int Size, long MaxMemoryBytes, IReadOnlyList<(PoolShape Shape, int Ready)> Shapes, int Claimed, int Created);
