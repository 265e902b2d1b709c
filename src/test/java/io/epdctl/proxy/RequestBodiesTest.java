package io.epdctl.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

/** How a request is split for the encoders: its items, and what each encoder request carries. */
class RequestBodiesTest {
    private static ObjectNode parse(String json) {
        try {
            return (ObjectNode) ProxyJson.MAPPER.readTree(json.replace('\'', '"'));
        } catch (java.io.IOException e) {
            throw new IllegalArgumentException(json, e);
        }
    }

    private static final String IMAGE_A = "{'type':'image_url','image_url':{'url':'data:image/png;base64,AAAA'}}";
    private static final String IMAGE_B = "{'type':'image_url','image_url':{'url':'file:///pictures/b.png'},'uuid':'b'}";
    private static final String VIDEO_C = "{'type':'video_url','video_url':{'url':'https://example.com/c.mp4'}}";
    private static final String TEXT = "{'type':'text','text':'Compare them.'}";

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
        // content of the messages                                                        | item urls, in order
        "text only, a string | [{'role':'user','content':'Hello'}]                         | ''",
        "text parts only     | [{'role':'user','content':[" + TEXT + "]}]                  | ''",
        "one image           | [{'role':'user','content':[" + IMAGE_A + "," + TEXT + "]}]  | data:image/png;base64,AAAA",
        "image, text, video  | [{'role':'user','content':[" + IMAGE_A + "," + TEXT + "," + VIDEO_C + "]}] "
                + "| data:image/png;base64,AAAA https://example.com/c.mp4",
        "over two messages   | [{'role':'system','content':'Be brief.'},{'role':'user','content':[" + IMAGE_B + "]},"
                + "{'role':'assistant','content':'A cat.'},{'role':'user','content':[" + TEXT + "," + IMAGE_A + "]}] "
                + "| file:///pictures/b.png data:image/png;base64,AAAA",
        "audio is no item    | [{'role':'user','content':[{'type':'input_audio','input_audio':{'data':'x'}}," + IMAGE_A + "]}] "
                + "| data:image/png;base64,AAAA",
    })
    void theItemsOfARequestAreItsImageAndVideoPartsInOrder(String name, String messages, String urls) {
        ObjectNode body = parse("{'model':'qwenvl','messages':" + messages + "}");

        List<String> found = RequestBodies.multimodalItems(body).stream()
                .map(item -> item.path(item.path("type").asText()).path("url").asText()).toList();

        assertThat(found).isEqualTo(urls.isEmpty() ? List.of() : List.of(urls.split(" ")));
        assertThat(RequestBodies.hasMultimodalInput(body)).isEqualTo(!found.isEmpty());
        assertThat(RequestBodies.oneItemEach(body)).hasSameSizeAs(found);
    }

    @Test
    void eachEncoderRequestCarriesTheModelAndOnlyItsOwnItemForOneToken() {
        ObjectNode body = parse("{'model':'qwenvl','stream':true,'stream_options':{'include_usage':true},"
                + "'max_tokens':64,'temperature':0.2,'max_completion_tokens':64,'mm_processor_kwargs':{'fps':2},"
                + "'messages':[{'role':'system','content':'Be brief.'},{'role':'user','content':[" + IMAGE_A + ","
                + TEXT + "," + IMAGE_B + "]},{'role':'user','content':[" + VIDEO_C + "]}]}");
        String before = body.toString();

        List<ObjectNode> requests = RequestBodies.oneItemEach(body);

        assertThat(requests).hasSize(3);
        List<JsonNode> items = List.of(parse(IMAGE_A), parse(IMAGE_B), parse(VIDEO_C));
        for (int i = 0; i < 3; i++) {
            assertThat(requests.get(i)).as("request %d", i).isEqualTo(parse("{'model':'qwenvl','messages':[{'role':'user',"
                    + "'content':[" + items.get(i) + "]}],'mm_processor_kwargs':{'fps':2},'max_completion_tokens':1,"
                    + "'stream':false,'max_tokens':1,'min_tokens':1}"));
        }
        assertThat(body.toString()).as("the client's request is left as it came").isEqualTo(before);
    }

    @Test
    void withoutOptionalFieldsAnEncoderRequestHasNoneOfThem() {
        ObjectNode body = parse("{'messages':[{'role':'user','content':[" + IMAGE_A + "," + IMAGE_B + "]}]}");

        List<ObjectNode> requests = RequestBodies.oneItemEach(body);

        assertThat(requests).containsExactly(
                parse("{'messages':[{'role':'user','content':[" + IMAGE_A + "]}],'stream':false,'max_tokens':1,'min_tokens':1}"),
                parse("{'messages':[{'role':'user','content':[" + IMAGE_B + "]}],'stream':false,'max_tokens':1,'min_tokens':1}"));
    }

    @Test
    void theSingleEncoderRequestIsTheWholeRequestForOneToken() {
        ObjectNode body = parse("{'model':'qwenvl','stream':true,'stream_options':{'include_usage':true},'max_tokens':64,"
                + "'messages':[{'role':'user','content':[" + IMAGE_A + "," + TEXT + "," + IMAGE_B + "]}]}");

        assertThat(RequestBodies.oneToken(body)).isEqualTo(parse("{'model':'qwenvl','stream':false,'max_tokens':1,"
                + "'min_tokens':1,'messages':[{'role':'user','content':[" + IMAGE_A + "," + TEXT + "," + IMAGE_B + "]}]}"));
    }
}
