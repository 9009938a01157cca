package loadgen

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/eclipse/paho.golang/paho"
)

// subscriber is the tablet: a real MQTT 5 client on pantry/{site}/orders/+.
type subscriber struct {
	client *paho.Client
}

func subscribe(ctx context.Context, cfg Config, onEvent func(payload []byte, at time.Time)) (*subscriber, error) {
	conn, err := (&net.Dialer{Timeout: 10 * time.Second}).DialContext(ctx, "tcp", cfg.MQTTAddr)
	if err != nil {
		return nil, fmt.Errorf("mqtt dial %s: %w", cfg.MQTTAddr, err)
	}
	c := paho.NewClient(paho.ClientConfig{
		Conn: conn,
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){
			func(pr paho.PublishReceived) (bool, error) {
				onEvent(pr.Packet.Payload, time.Now())
				return true, nil
			},
		},
	})
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	ca, err := c.Connect(ctx, &paho.Connect{
		ClientID: "loadgen-" + fmt.Sprint(time.Now().UnixNano()), CleanStart: true, KeepAlive: 30,
		Username: cfg.Username, UsernameFlag: true, Password: []byte(cfg.Password), PasswordFlag: true,
	})
	if err != nil {
		return nil, fmt.Errorf("mqtt connect: %w (reason %v)", err, reasonOf(ca))
	}
	s := &subscriber{client: c}
	filter := "pantry/" + cfg.SiteID + "/orders/+"
	for range 20 { // mochi may answer 0x91 (packet id in use) to an early SUBSCRIBE; retry
		sa, err := c.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: filter, QoS: 1}}})
		if sa != nil && len(sa.Reasons) == 1 && sa.Reasons[0] == 1 {
			return s, nil
		}
		if sa == nil {
			s.close()
			return nil, fmt.Errorf("mqtt subscribe %s: %w", filter, err)
		}
	}
	s.close()
	return nil, fmt.Errorf("mqtt subscribe %s: refused", filter)
}

func reasonOf(ca *paho.Connack) any {
	if ca == nil {
		return "none"
	}
	return ca.ReasonCode
}

func (s *subscriber) close() {
	_ = s.client.Disconnect(&paho.Disconnect{})
}
