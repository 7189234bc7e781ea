using System.Net;
using System.Net.Sockets;

namespace Pipeline.Tests.Infrastructure;

public static class Ports
{
    /// <summary>A TCP port on 127.0.0.1 that nothing listens on now (bound, then released): for a server to start on, or to find closed.</summary>
    public static int Free()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}
